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
          context_id: string | null
          context_type:
            | Database["public"]["Enums"]["conversation_context_type"]
            | null
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
          context_id?: string | null
          context_type?:
            | Database["public"]["Enums"]["conversation_context_type"]
            | null
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
          context_id?: string | null
          context_type?:
            | Database["public"]["Enums"]["conversation_context_type"]
            | null
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
      daily_plans: {
        Row: {
          created_at: string
          date: string
          id: string
          status: Database["public"]["Enums"]["plan_status"]
          summary: string
          updated_at: string
          user_id: string
          weekly_plan_id: string | null
        }
        Insert: {
          created_at?: string
          date: string
          id?: string
          status?: Database["public"]["Enums"]["plan_status"]
          summary?: string
          updated_at?: string
          user_id?: string
          weekly_plan_id?: string | null
        }
        Update: {
          created_at?: string
          date?: string
          id?: string
          status?: Database["public"]["Enums"]["plan_status"]
          summary?: string
          updated_at?: string
          user_id?: string
          weekly_plan_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "daily_plans_weekly_plan_fkey"
            columns: ["weekly_plan_id", "user_id"]
            isOneToOne: false
            referencedRelation: "weekly_plans"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      goals: {
        Row: {
          completed_at: string | null
          created_at: string
          description: string
          due_date: string | null
          id: string
          parent_goal_id: string | null
          priority: Database["public"]["Enums"]["plan_priority"]
          progress: number
          status: Database["public"]["Enums"]["goal_status"]
          time_horizon: Database["public"]["Enums"]["goal_time_horizon"]
          title: string
          updated_at: string
          user_id: string
        }
        Insert: {
          completed_at?: string | null
          created_at?: string
          description?: string
          due_date?: string | null
          id?: string
          parent_goal_id?: string | null
          priority?: Database["public"]["Enums"]["plan_priority"]
          progress?: number
          status?: Database["public"]["Enums"]["goal_status"]
          time_horizon?: Database["public"]["Enums"]["goal_time_horizon"]
          title: string
          updated_at?: string
          user_id?: string
        }
        Update: {
          completed_at?: string | null
          created_at?: string
          description?: string
          due_date?: string | null
          id?: string
          parent_goal_id?: string | null
          priority?: Database["public"]["Enums"]["plan_priority"]
          progress?: number
          status?: Database["public"]["Enums"]["goal_status"]
          time_horizon?: Database["public"]["Enums"]["goal_time_horizon"]
          title?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "goals_parent_goal_fkey"
            columns: ["parent_goal_id", "user_id"]
            isOneToOne: false
            referencedRelation: "goals"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      knowledge_chunks: {
        Row: {
          child_id: string | null
          chunk_index: number
          content: string
          content_hash: string
          created_at: string
          dimensions: number
          embedding: string
          fts: unknown
          id: string
          metadata: NonNullable<Json>
          model: string
          owner_id: string | null
          source: string
          source_id: string
          title: string
        }
        Insert: {
          child_id?: string | null
          chunk_index: number
          content: string
          content_hash: string
          created_at?: string
          dimensions: number
          embedding: string
          fts?: never
          id?: string
          metadata?: NonNullable<Json>
          model: string
          owner_id?: string | null
          source: string
          source_id: string
          title?: string
        }
        Update: {
          child_id?: string | null
          chunk_index?: number
          content?: string
          content_hash?: string
          created_at?: string
          dimensions?: number
          embedding?: string
          fts?: never
          id?: string
          metadata?: NonNullable<Json>
          model?: string
          owner_id?: string | null
          source?: string
          source_id?: string
          title?: string
        }
        Relationships: []
      }
      messages: {
        Row: {
          cache_read_tokens: number | null
          cache_write_tokens: number | null
          citations: NonNullable<Json>
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
          citations?: NonNullable<Json>
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
          citations?: NonNullable<Json>
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
      note_scans: {
        Row: {
          completed_at: string | null
          created_at: string
          error: string | null
          hint: string
          id: string
          image_path: string
          note_id: string | null
          parent_id: string | null
          status: Database["public"]["Enums"]["note_scan_status"]
          user_id: string
        }
        Insert: {
          completed_at?: string | null
          created_at?: string
          error?: string | null
          hint?: string
          id?: string
          image_path: string
          note_id?: string | null
          parent_id?: string | null
          status?: Database["public"]["Enums"]["note_scan_status"]
          user_id?: string
        }
        Update: {
          completed_at?: string | null
          created_at?: string
          error?: string | null
          hint?: string
          id?: string
          image_path?: string
          note_id?: string | null
          parent_id?: string | null
          status?: Database["public"]["Enums"]["note_scan_status"]
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "note_scans_note_fkey"
            columns: ["note_id", "user_id"]
            isOneToOne: false
            referencedRelation: "notes"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "note_scans_parent_fkey"
            columns: ["parent_id", "user_id"]
            isOneToOne: false
            referencedRelation: "notes"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      notes: {
        Row: {
          archived: boolean
          content: NonNullable<Json>
          created_at: string
          id: string
          metadata: NonNullable<Json>
          parent_id: string | null
          pinned: boolean
          title: string
          updated_at: string
          user_id: string
          version: number
        }
        Insert: {
          archived?: boolean
          content?: NonNullable<Json>
          created_at?: string
          id?: string
          metadata?: NonNullable<Json>
          parent_id?: string | null
          pinned?: boolean
          title?: string
          updated_at?: string
          user_id?: string
          version?: number
        }
        Update: {
          archived?: boolean
          content?: NonNullable<Json>
          created_at?: string
          id?: string
          metadata?: NonNullable<Json>
          parent_id?: string | null
          pinned?: boolean
          title?: string
          updated_at?: string
          user_id?: string
          version?: number
        }
        Relationships: [
          {
            foreignKeyName: "notes_parent_fkey"
            columns: ["parent_id", "user_id"]
            isOneToOne: false
            referencedRelation: "notes"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      plan_items: {
        Row: {
          completed_at: string | null
          created_at: string
          daily_plan_id: string
          goal_id: string | null
          id: string
          notes: string
          position: number
          priority: Database["public"]["Enums"]["plan_priority"]
          status: Database["public"]["Enums"]["plan_item_status"]
          title: string
          updated_at: string
          user_id: string
        }
        Insert: {
          completed_at?: string | null
          created_at?: string
          daily_plan_id: string
          goal_id?: string | null
          id?: string
          notes?: string
          position: number
          priority?: Database["public"]["Enums"]["plan_priority"]
          status?: Database["public"]["Enums"]["plan_item_status"]
          title: string
          updated_at?: string
          user_id?: string
        }
        Update: {
          completed_at?: string | null
          created_at?: string
          daily_plan_id?: string
          goal_id?: string | null
          id?: string
          notes?: string
          position?: number
          priority?: Database["public"]["Enums"]["plan_priority"]
          status?: Database["public"]["Enums"]["plan_item_status"]
          title?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "plan_items_daily_plan_fkey"
            columns: ["daily_plan_id", "user_id"]
            isOneToOne: false
            referencedRelation: "daily_plans"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "plan_items_goal_fkey"
            columns: ["goal_id", "user_id"]
            isOneToOne: false
            referencedRelation: "goals"
            referencedColumns: ["id", "user_id"]
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
      reflections: {
        Row: {
          content: string
          created_at: string
          entry_date: string
          id: string
          metadata: NonNullable<Json>
          mood: number | null
          title: string
          type: Database["public"]["Enums"]["reflection_type"]
          updated_at: string
          user_id: string
        }
        Insert: {
          content: string
          created_at?: string
          entry_date?: string
          id?: string
          metadata?: NonNullable<Json>
          mood?: number | null
          title?: string
          type?: Database["public"]["Enums"]["reflection_type"]
          updated_at?: string
          user_id?: string
        }
        Update: {
          content?: string
          created_at?: string
          entry_date?: string
          id?: string
          metadata?: NonNullable<Json>
          mood?: number | null
          title?: string
          type?: Database["public"]["Enums"]["reflection_type"]
          updated_at?: string
          user_id?: string
        }
        Relationships: []
      }
      tasks: {
        Row: {
          completed_at: string | null
          created_at: string
          description: string
          due_date: string | null
          due_time: string | null
          id: string
          metadata: NonNullable<Json>
          parent_id: string | null
          priority: Database["public"]["Enums"]["plan_priority"]
          source: Database["public"]["Enums"]["task_source"]
          source_block_id: string | null
          source_note_id: string | null
          status: Database["public"]["Enums"]["task_status"]
          title: string
          updated_at: string
          user_id: string
        }
        Insert: {
          completed_at?: string | null
          created_at?: string
          description?: string
          due_date?: string | null
          due_time?: string | null
          id?: string
          metadata?: NonNullable<Json>
          parent_id?: string | null
          priority?: Database["public"]["Enums"]["plan_priority"]
          source?: Database["public"]["Enums"]["task_source"]
          source_block_id?: string | null
          source_note_id?: string | null
          status?: Database["public"]["Enums"]["task_status"]
          title: string
          updated_at?: string
          user_id?: string
        }
        Update: {
          completed_at?: string | null
          created_at?: string
          description?: string
          due_date?: string | null
          due_time?: string | null
          id?: string
          metadata?: NonNullable<Json>
          parent_id?: string | null
          priority?: Database["public"]["Enums"]["plan_priority"]
          source?: Database["public"]["Enums"]["task_source"]
          source_block_id?: string | null
          source_note_id?: string | null
          status?: Database["public"]["Enums"]["task_status"]
          title?: string
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "tasks_parent_fkey"
            columns: ["parent_id", "user_id"]
            isOneToOne: false
            referencedRelation: "tasks"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "tasks_source_note_fkey"
            columns: ["source_note_id", "user_id"]
            isOneToOne: false
            referencedRelation: "notes"
            referencedColumns: ["id", "user_id"]
          },
        ]
      }
      tool_calls: {
        Row: {
          changes: NonNullable<Json>
          completed_at: string | null
          conversation_id: string
          created_at: string
          id: string
          input: NonNullable<Json>
          is_error: boolean
          message_id: string
          name: string
          position: number
          result: Json | null
          status: Database["public"]["Enums"]["tool_call_status"]
          step: number
          tool_use_id: string
          user_id: string
        }
        Insert: {
          changes?: NonNullable<Json>
          completed_at?: string | null
          conversation_id: string
          created_at?: string
          id?: string
          input: NonNullable<Json>
          is_error?: boolean
          message_id: string
          name: string
          position: number
          result?: Json | null
          status?: Database["public"]["Enums"]["tool_call_status"]
          step: number
          tool_use_id: string
          user_id: string
        }
        Update: {
          changes?: NonNullable<Json>
          completed_at?: string | null
          conversation_id?: string
          created_at?: string
          id?: string
          input?: NonNullable<Json>
          is_error?: boolean
          message_id?: string
          name?: string
          position?: number
          result?: Json | null
          status?: Database["public"]["Enums"]["tool_call_status"]
          step?: number
          tool_use_id?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "tool_calls_conversation_fkey"
            columns: ["conversation_id", "user_id"]
            isOneToOne: false
            referencedRelation: "conversations"
            referencedColumns: ["id", "user_id"]
          },
          {
            foreignKeyName: "tool_calls_message_fkey"
            columns: ["message_id", "conversation_id"]
            isOneToOne: false
            referencedRelation: "messages"
            referencedColumns: ["id", "conversation_id"]
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
      weekly_plans: {
        Row: {
          created_at: string
          focus_areas: string[]
          id: string
          status: Database["public"]["Enums"]["plan_status"]
          summary: string
          updated_at: string
          user_id: string
          week_start_date: string
        }
        Insert: {
          created_at?: string
          focus_areas?: string[]
          id?: string
          status?: Database["public"]["Enums"]["plan_status"]
          summary?: string
          updated_at?: string
          user_id?: string
          week_start_date: string
        }
        Update: {
          created_at?: string
          focus_areas?: string[]
          id?: string
          status?: Database["public"]["Enums"]["plan_status"]
          summary?: string
          updated_at?: string
          user_id?: string
          week_start_date?: string
        }
        Relationships: []
      }
    }
    Views: {
      [_ in never]: never
    }
    Functions: {
      checkpoint_chat_replies_v1: {
        Args: { p_items: Json; p_worker: string }
        Returns: Json
      }
      claim_jobs_v4: {
        Args: {
          p_finish?: Json
          p_kinds: string[]
          p_lease_seconds?: number
          p_limit?: number
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
      forget_fact: { Args: { p_fact_id: string }; Returns: undefined }
      put_query_embeddings_v1: {
        Args: { p_items: Json; p_job_id: number; p_worker: string }
        Returns: number
      }
      record_reply_step_v1: {
        Args: { p_job_id: number; p_step: Json; p_worker: string }
        Returns: Json
      }
      release_job_v1: {
        Args: { p_job_id: number; p_worker: string }
        Returns: undefined
      }
      retrieve_for_reply_v1: {
        Args: {
          p_embedding: Json
          p_job_id: number
          p_model: string
          p_options?: Json
          p_query: string
          p_worker: string
        }
        Returns: Json
      }
      run_tool_calls_v1: {
        Args: { p_job_id: number; p_step: number; p_worker: string }
        Returns: Json
      }
      search_knowledge: {
        Args: {
          p_include_shared?: boolean
          p_match_count?: number
          p_model?: string
          p_query?: string
          p_query_embedding?: string
          p_sources?: string[]
        }
        Returns: {
          chunk_id: string
          chunk_index: number
          content: string
          metadata: Json
          score: number
          shared: boolean
          similarity: number
          source: string
          source_id: string
          title: string
        }[]
      }
    }
    Enums: {
      checkin_status: "draft" | "completed"
      conversation_context_type: "daily_planning" | "weekly_planning" | "goal"
      goal_status: "active" | "completed" | "paused" | "cancelled"
      goal_time_horizon: "short" | "medium" | "long"
      message_role: "user" | "assistant"
      message_status: "pending" | "streaming" | "complete" | "failed"
      note_scan_status: "pending" | "done" | "failed"
      plan_item_status: "todo" | "in_progress" | "done" | "skipped"
      plan_priority: "low" | "medium" | "high" | "urgent"
      plan_status: "draft" | "active" | "completed"
      profile_sex: "female" | "male" | "other" | "prefer_not_to_say"
      recommendation_source: "checkin" | "conversation" | "operator"
      recommendation_status: "new" | "accepted" | "dismissed" | "done"
      reflection_type: "daily" | "weekly" | "monthly" | "gratitude" | "freeform"
      task_source: "manual" | "note" | "ai" | "chat"
      task_status: "todo" | "in_progress" | "done" | "cancelled"
      tool_call_status: "pending" | "succeeded" | "failed"
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
      conversation_context_type: ["daily_planning", "weekly_planning", "goal"],
      goal_status: ["active", "completed", "paused", "cancelled"],
      goal_time_horizon: ["short", "medium", "long"],
      message_role: ["user", "assistant"],
      message_status: ["pending", "streaming", "complete", "failed"],
      note_scan_status: ["pending", "done", "failed"],
      plan_item_status: ["todo", "in_progress", "done", "skipped"],
      plan_priority: ["low", "medium", "high", "urgent"],
      plan_status: ["draft", "active", "completed"],
      profile_sex: ["female", "male", "other", "prefer_not_to_say"],
      recommendation_source: ["checkin", "conversation", "operator"],
      recommendation_status: ["new", "accepted", "dismissed", "done"],
      reflection_type: ["daily", "weekly", "monthly", "gratitude", "freeform"],
      task_source: ["manual", "note", "ai", "chat"],
      task_status: ["todo", "in_progress", "done", "cancelled"],
      tool_call_status: ["pending", "succeeded", "failed"],
    },
  },
} as const

