export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]

export type Database = {
  public: {
    Tables: {
      categories: {
        Row: {
          checkin_enabled: boolean
          checkin_questions: NonNullable<Json>
          color: string | null
          created_at: string
          description: string
          followup_after: string | null
          icon: string | null
          id: string
          is_active: boolean
          name: string
          parent_id: string | null
          slug: string
          sort_order: number
          updated_at: string
        }
        Insert: {
          checkin_enabled?: boolean
          checkin_questions?: NonNullable<Json>
          color?: string | null
          created_at?: string
          description?: string
          followup_after?: string | null
          icon?: string | null
          id?: string
          is_active?: boolean
          name: string
          parent_id?: string | null
          slug: string
          sort_order?: number
          updated_at?: string
        }
        Update: {
          checkin_enabled?: boolean
          checkin_questions?: NonNullable<Json>
          color?: string | null
          created_at?: string
          description?: string
          followup_after?: string | null
          icon?: string | null
          id?: string
          is_active?: boolean
          name?: string
          parent_id?: string | null
          slug?: string
          sort_order?: number
          updated_at?: string
        }
        Relationships: [
          {
            foreignKeyName: "categories_parent_id_fkey"
            columns: ["parent_id"]
            isOneToOne: false
            referencedRelation: "categories"
            referencedColumns: ["id"]
          },
        ]
      }
      checkins: {
        Row: {
          analysis_model: string | null
          analysis_prompt_version: string | null
          analyzed_at: string | null
          answers: NonNullable<Json>
          category_id: string
          completed_at: string | null
          created_at: string
          id: string
          insights: Json | null
          level: number | null
          note: string | null
          status: Database["public"]["Enums"]["checkin_status"]
          summary: string | null
          updated_at: string
          user_id: string
        }
        Insert: {
          analysis_model?: string | null
          analysis_prompt_version?: string | null
          analyzed_at?: string | null
          answers?: NonNullable<Json>
          category_id: string
          completed_at?: string | null
          created_at?: string
          id?: string
          insights?: Json | null
          level?: number | null
          note?: string | null
          status?: Database["public"]["Enums"]["checkin_status"]
          summary?: string | null
          updated_at?: string
          user_id?: string
        }
        Update: {
          analysis_model?: string | null
          analysis_prompt_version?: string | null
          analyzed_at?: string | null
          answers?: NonNullable<Json>
          category_id?: string
          completed_at?: string | null
          created_at?: string
          id?: string
          insights?: Json | null
          level?: number | null
          note?: string | null
          status?: Database["public"]["Enums"]["checkin_status"]
          summary?: string | null
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "checkins_category_id_fkey"
            columns: ["category_id"]
            isOneToOne: false
            referencedRelation: "categories"
            referencedColumns: ["id"]
          },
        ]
      }
      coaches: {
        Row: {
          avatar_path: string | null
          created_at: string
          description: string
          id: string
          intro: string
          is_active: boolean
          name: string
          slug: string
          sort_order: number
          updated_at: string
        }
        Insert: {
          avatar_path?: string | null
          created_at?: string
          description?: string
          id?: string
          intro: string
          is_active?: boolean
          name: string
          slug: string
          sort_order?: number
          updated_at?: string
        }
        Update: {
          avatar_path?: string | null
          created_at?: string
          description?: string
          id?: string
          intro?: string
          is_active?: boolean
          name?: string
          slug?: string
          sort_order?: number
          updated_at?: string
        }
        Relationships: []
      }
      conversations: {
        Row: {
          archived_at: string | null
          category_id: string | null
          coach_id: string
          created_at: string
          id: string
          last_message_at: string | null
          summary: string | null
          summary_through_message_id: string | null
          title: string | null
          updated_at: string
          user_id: string
        }
        Insert: {
          archived_at?: string | null
          category_id?: string | null
          coach_id: string
          created_at?: string
          id?: string
          last_message_at?: string | null
          summary?: string | null
          summary_through_message_id?: string | null
          title?: string | null
          updated_at?: string
          user_id?: string
        }
        Update: {
          archived_at?: string | null
          category_id?: string | null
          coach_id?: string
          created_at?: string
          id?: string
          last_message_at?: string | null
          summary?: string | null
          summary_through_message_id?: string | null
          title?: string | null
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "conversations_category_id_fkey"
            columns: ["category_id"]
            isOneToOne: false
            referencedRelation: "categories"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "conversations_coach_id_fkey"
            columns: ["coach_id"]
            isOneToOne: false
            referencedRelation: "coaches"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "conversations_summary_through_message_fkey"
            columns: ["summary_through_message_id", "id"]
            isOneToOne: false
            referencedRelation: "messages"
            referencedColumns: ["id", "conversation_id"]
          },
        ]
      }
      messages: {
        Row: {
          cache_read_tokens: number | null
          cache_write_tokens: number | null
          completed_at: string | null
          content: string
          conversation_id: string
          created_at: string
          error: string | null
          id: string
          input_tokens: number | null
          model: string | null
          output_tokens: number | null
          prompt_version: string | null
          reply_to: string | null
          role: Database["public"]["Enums"]["message_role"]
          status: Database["public"]["Enums"]["message_status"]
          user_id: string
        }
        Insert: {
          cache_read_tokens?: number | null
          cache_write_tokens?: number | null
          completed_at?: string | null
          content?: string
          conversation_id: string
          created_at?: string
          error?: string | null
          id?: string
          input_tokens?: number | null
          model?: string | null
          output_tokens?: number | null
          prompt_version?: string | null
          reply_to?: string | null
          role?: Database["public"]["Enums"]["message_role"]
          status?: Database["public"]["Enums"]["message_status"]
          user_id?: string
        }
        Update: {
          cache_read_tokens?: number | null
          cache_write_tokens?: number | null
          completed_at?: string | null
          content?: string
          conversation_id?: string
          created_at?: string
          error?: string | null
          id?: string
          input_tokens?: number | null
          model?: string | null
          output_tokens?: number | null
          prompt_version?: string | null
          reply_to?: string | null
          role?: Database["public"]["Enums"]["message_role"]
          status?: Database["public"]["Enums"]["message_status"]
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "messages_conversation_fkey"
            columns: ["conversation_id", "user_id"]
            isOneToOne: false
            referencedRelation: "conversations"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "messages_reply_to_fkey"
            columns: ["reply_to", "conversation_id"]
            isOneToOne: false
            referencedRelation: "messages"
            referencedColumns: ["id", "conversation_id"]
          },
        ]
      }
      profiles: {
        Row: {
          avatar_path: string | null
          birth_date: string | null
          coach_id: string | null
          created_at: string
          display_name: string | null
          id: string
          locale: string
          mood_config: NonNullable<Json>
          preferences: NonNullable<Json>
          sex: Database["public"]["Enums"]["profile_sex"] | null
          timezone: string
          updated_at: string
        }
        Insert: {
          avatar_path?: string | null
          birth_date?: string | null
          coach_id?: string | null
          created_at?: string
          display_name?: string | null
          id: string
          locale?: string
          mood_config?: NonNullable<Json>
          preferences?: NonNullable<Json>
          sex?: Database["public"]["Enums"]["profile_sex"] | null
          timezone?: string
          updated_at?: string
        }
        Update: {
          avatar_path?: string | null
          birth_date?: string | null
          coach_id?: string | null
          created_at?: string
          display_name?: string | null
          id?: string
          locale?: string
          mood_config?: NonNullable<Json>
          preferences?: NonNullable<Json>
          sex?: Database["public"]["Enums"]["profile_sex"] | null
          timezone?: string
          updated_at?: string
        }
        Relationships: [
          {
            foreignKeyName: "profiles_coach_id_fkey"
            columns: ["coach_id"]
            isOneToOne: false
            referencedRelation: "coaches"
            referencedColumns: ["id"]
          },
        ]
      }
      recommendations: {
        Row: {
          body: string
          category_id: string | null
          checkin_id: string | null
          created_at: string
          how: string
          id: string
          importance: number
          model: string | null
          prompt_version: string | null
          source: Database["public"]["Enums"]["recommendation_source"]
          status: Database["public"]["Enums"]["recommendation_status"]
          title: string
          updated_at: string
          user_id: string
          why: string
        }
        Insert: {
          body?: string
          category_id?: string | null
          checkin_id?: string | null
          created_at?: string
          how?: string
          id?: string
          importance?: number
          model?: string | null
          prompt_version?: string | null
          source?: Database["public"]["Enums"]["recommendation_source"]
          status?: Database["public"]["Enums"]["recommendation_status"]
          title: string
          updated_at?: string
          user_id: string
          why?: string
        }
        Update: {
          body?: string
          category_id?: string | null
          checkin_id?: string | null
          created_at?: string
          how?: string
          id?: string
          importance?: number
          model?: string | null
          prompt_version?: string | null
          source?: Database["public"]["Enums"]["recommendation_source"]
          status?: Database["public"]["Enums"]["recommendation_status"]
          title?: string
          updated_at?: string
          user_id?: string
          why?: string
        }
        Relationships: [
          {
            foreignKeyName: "recommendations_category_id_fkey"
            columns: ["category_id"]
            isOneToOne: false
            referencedRelation: "categories"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "recommendations_checkin_fkey"
            columns: ["checkin_id", "user_id"]
            isOneToOne: false
            referencedRelation: "checkins"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      user_categories: {
        Row: {
          category_id: string
          created_at: string
          is_favourite: boolean
          user_id: string
        }
        Insert: {
          category_id: string
          created_at?: string
          is_favourite?: boolean
          user_id?: string
        }
        Update: {
          category_id?: string
          created_at?: string
          is_favourite?: boolean
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "user_categories_category_id_fkey"
            columns: ["category_id"]
            isOneToOne: false
            referencedRelation: "categories"
            referencedColumns: ["id"]
          },
        ]
      }
      user_summaries: {
        Row: {
          created_at: string
          key_facts: NonNullable<Json>
          model: string | null
          prompt_version: string | null
          summary: string
          updated_at: string
          user_id: string
        }
        Insert: {
          created_at?: string
          key_facts?: NonNullable<Json>
          model?: string | null
          prompt_version?: string | null
          summary?: string
          updated_at?: string
          user_id: string
        }
        Update: {
          created_at?: string
          key_facts?: NonNullable<Json>
          model?: string | null
          prompt_version?: string | null
          summary?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: []
      }
    }
    Views: {
      [_ in never]: never
    }
    Functions: {
      category_guidelines_v1: {
        Args: { p_category_id: string }
        Returns: {
          avoid: string
          category_id: string
          escalation: string
          guidelines: string
          name: string
          slug: string
        }[]
      }
      chat_reply_context_v1: {
        Args: { p_history_limit?: number; p_job_id: number; p_worker: string }
        Returns: Json
      }
      checkin_analysis_context_v1: {
        Args: { p_job_id: number; p_worker: string }
        Returns: Json
      }
      checkpoint_chat_replies_v1: {
        Args: { p_items: Json; p_worker: string }
        Returns: Json
      }
      checkpoint_chat_reply_v1: {
        Args: {
          p_content: string
          p_job_id: number
          p_message_id: string
          p_worker: string
        }
        Returns: undefined
      }
      claim_jobs_v1: {
        Args: {
          p_kinds: string[]
          p_lease_seconds?: number
          p_limit?: number
          p_worker: string
        }
        Returns: unknown[]
        SetofOptions: {
          from: "*"
          to: "jobs"
          isOneToOne: false
          isSetofReturn: true
        }
      }
      claim_jobs_v2: {
        Args: {
          p_complete?: number[]
          p_kinds: string[]
          p_lease_seconds?: number
          p_limit?: number
          p_worker: string
        }
        Returns: Json
      }
      claim_jobs_v3: {
        Args: {
          p_finish?: Json
          p_kinds: string[]
          p_lease_seconds?: number
          p_limit?: number
          p_worker: string
        }
        Returns: Json
      }
      complete_chat_reply_v1: {
        Args: {
          p_cache_read_tokens?: number
          p_cache_write_tokens?: number
          p_content: string
          p_input_tokens: number
          p_job_id: number
          p_message_id: string
          p_model: string
          p_output_tokens: number
          p_prompt_version: string
          p_worker: string
        }
        Returns: {
          cache_read_tokens: number | null
          cache_write_tokens: number | null
          completed_at: string | null
          content: string
          conversation_id: string
          created_at: string
          error: string | null
          id: string
          input_tokens: number | null
          model: string | null
          output_tokens: number | null
          prompt_version: string | null
          reply_to: string | null
          role: Database["public"]["Enums"]["message_role"]
          status: Database["public"]["Enums"]["message_status"]
          user_id: string
        }
        SetofOptions: {
          from: "*"
          to: "messages"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      complete_chat_reply_v2: {
        Args: {
          p_cache_read_tokens?: number
          p_cache_write_tokens?: number
          p_content: string
          p_input_tokens: number
          p_job_id: number
          p_message_id: string
          p_model: string
          p_output_tokens: number
          p_prompt_version: string
          p_tail?: string
          p_tail_seq?: number
          p_worker: string
        }
        Returns: undefined
      }
      complete_checkin_analysis_v1: {
        Args: {
          p_cache_read_tokens?: number
          p_cache_write_tokens?: number
          p_input_tokens?: number
          p_insights: Json
          p_job_id: number
          p_model: string
          p_output_tokens?: number
          p_prompt_version: string
          p_summary: string
          p_worker: string
        }
        Returns: {
          analysis_model: string | null
          analysis_prompt_version: string | null
          analyzed_at: string | null
          answers: NonNullable<Json>
          category_id: string
          completed_at: string | null
          created_at: string
          id: string
          insights: Json | null
          level: number | null
          note: string | null
          status: Database["public"]["Enums"]["checkin_status"]
          summary: string | null
          updated_at: string
          user_id: string
        }
        SetofOptions: {
          from: "*"
          to: "checkins"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      complete_conversation_summary_v1: {
        Args: {
          p_cache_read_tokens?: number
          p_cache_write_tokens?: number
          p_input_tokens?: number
          p_job_id: number
          p_model: string
          p_output_tokens?: number
          p_prompt_version: string
          p_summary: string
          p_through_message_id: string
          p_worker: string
        }
        Returns: undefined
      }
      complete_followup_v1: {
        Args: {
          p_cache_read_tokens?: number
          p_cache_write_tokens?: number
          p_coach_id: string
          p_content: string
          p_input_tokens?: number
          p_job_id: number
          p_model: string
          p_output_tokens?: number
          p_prompt_version: string
          p_worker: string
        }
        Returns: {
          cache_read_tokens: number | null
          cache_write_tokens: number | null
          completed_at: string | null
          content: string
          conversation_id: string
          created_at: string
          error: string | null
          id: string
          input_tokens: number | null
          model: string | null
          output_tokens: number | null
          prompt_version: string | null
          reply_to: string | null
          role: Database["public"]["Enums"]["message_role"]
          status: Database["public"]["Enums"]["message_status"]
          user_id: string
        }
        SetofOptions: {
          from: "*"
          to: "messages"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      complete_job_v1: {
        Args: { p_job_id: number; p_result?: Json; p_worker: string }
        Returns: undefined
      }
      complete_recommendations_v1: {
        Args: {
          p_cache_read_tokens?: number
          p_cache_write_tokens?: number
          p_input_tokens?: number
          p_items: Json
          p_job_id: number
          p_model: string
          p_output_tokens?: number
          p_prompt_version: string
          p_worker: string
        }
        Returns: number
      }
      complete_user_summary_v1: {
        Args: {
          p_cache_read_tokens?: number
          p_cache_write_tokens?: number
          p_facts: Json
          p_input_tokens?: number
          p_job_id: number
          p_model: string
          p_output_tokens?: number
          p_prompt_version: string
          p_summary: string
          p_worker: string
        }
        Returns: {
          created_at: string
          key_facts: NonNullable<Json>
          model: string | null
          prompt_version: string | null
          summary: string
          updated_at: string
          user_id: string
        }
        SetofOptions: {
          from: "*"
          to: "user_summaries"
          isOneToOne: true
          isSetofReturn: false
        }
      }
      conversation_summary_context_v1: {
        Args: {
          p_job_id: number
          p_keep_recent?: number
          p_max_turns?: number
          p_worker: string
        }
        Returns: Json
      }
      extend_job_lease_v1: {
        Args: { p_job_id: number; p_lease_seconds?: number; p_worker: string }
        Returns: string
      }
      fail_job_v1: {
        Args: {
          p_error: string
          p_job_id: number
          p_retry_after?: number
          p_retryable?: boolean
          p_worker: string
        }
        Returns: "queued" | "running" | "succeeded" | "failed" | "dead"
      }
      followup_context_v1: {
        Args: { p_job_id: number; p_worker: string }
        Returns: Json
      }
      forget_fact: { Args: { p_fact_id: string }; Returns: undefined }
      recommendations_context_v1: {
        Args: { p_job_id: number; p_worker: string }
        Returns: Json
      }
      release_job_v1: {
        Args: { p_job_id: number; p_worker: string }
        Returns: undefined
      }
      request_conversation_summary_v1: {
        Args: { p_job_id: number; p_worker: string }
        Returns: undefined
      }
      resolve_prompt_v1: {
        Args: { p_coach_id?: string; p_kind: string }
        Returns: {
          max_tokens: number
          model: string
          prompt_name: string
          prompt_version: string
          temperature: number
          template: string
          version: number
        }[]
      }
      settings_v1: { Args: Record<PropertyKey, never>; Returns: Json }
      user_summary_context_v1: {
        Args: { p_job_id: number; p_message_limit?: number; p_worker: string }
        Returns: Json
      }
    }
    Enums: {
      checkin_status: "draft" | "completed"
      message_role: "user" | "assistant"
      message_status: "pending" | "streaming" | "complete" | "failed"
      profile_sex: "female" | "male" | "other" | "prefer_not_to_say"
      recommendation_source: "checkin" | "conversation" | "operator"
      recommendation_status: "new" | "accepted" | "dismissed" | "done"
    }
    CompositeTypes: {
      [_ in never]: never
    }
  }
}

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] &
        DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] &
        DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
        Row: infer R
      }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Insert: infer I
      }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends (DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never) = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Update: infer U
      }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends (DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never) = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends (PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never) = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never

export const Constants = {
  public: {
    Enums: {
      checkin_status: ["draft", "completed"],
      message_role: ["user", "assistant"],
      message_status: ["pending", "streaming", "complete", "failed"],
      profile_sex: ["female", "male", "other", "prefer_not_to_say"],
      recommendation_source: ["checkin", "conversation", "operator"],
      recommendation_status: ["new", "accepted", "dismissed", "done"],
    },
  },
} as const

