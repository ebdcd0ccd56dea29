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
          child_id: string | null
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
          child_id?: string | null
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
          child_id?: string | null
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
          {
            foreignKeyName: "checkins_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
        ]
      }
      child_invitations: {
        Row: {
          accepted_at: string | null
          accepted_by: string | null
          child_id: string
          created_at: string
          delivery: Database["public"]["Enums"]["child_invitation_delivery"]
          delivery_error: string | null
          email: string
          expires_at: string
          id: string
          invited_by: string | null
          role: Database["public"]["Enums"]["child_member_role"]
        }
        Insert: {
          accepted_at?: string | null
          accepted_by?: string | null
          child_id: string
          created_at?: string
          delivery?: Database["public"]["Enums"]["child_invitation_delivery"]
          delivery_error?: string | null
          email: string
          expires_at: string
          id?: string
          invited_by?: string | null
          role?: Database["public"]["Enums"]["child_member_role"]
        }
        Update: {
          accepted_at?: string | null
          accepted_by?: string | null
          child_id?: string
          created_at?: string
          delivery?: Database["public"]["Enums"]["child_invitation_delivery"]
          delivery_error?: string | null
          email?: string
          expires_at?: string
          id?: string
          invited_by?: string | null
          role?: Database["public"]["Enums"]["child_member_role"]
        }
        Relationships: [
          {
            foreignKeyName: "child_invitations_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
        ]
      }
      child_members: {
        Row: {
          accepted_at: string
          child_id: string
          created_at: string
          invited_by: string | null
          role: Database["public"]["Enums"]["child_member_role"]
          updated_at: string
          user_id: string
        }
        Insert: {
          accepted_at?: string
          child_id: string
          created_at?: string
          invited_by?: string | null
          role: Database["public"]["Enums"]["child_member_role"]
          updated_at?: string
          user_id: string
        }
        Update: {
          accepted_at?: string
          child_id?: string
          created_at?: string
          invited_by?: string | null
          role?: Database["public"]["Enums"]["child_member_role"]
          updated_at?: string
          user_id?: string
        }
        Relationships: [
          {
            foreignKeyName: "child_members_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
        ]
      }
      children: {
        Row: {
          created_at: string
          created_by: string
          date_of_birth: string
          id: string
          name: string
          notes: string
          sex: Database["public"]["Enums"]["profile_sex"] | null
          timezone: string
          updated_at: string
        }
        Insert: {
          created_at?: string
          created_by?: string
          date_of_birth: string
          id?: string
          name: string
          notes?: string
          sex?: Database["public"]["Enums"]["profile_sex"] | null
          timezone?: string
          updated_at?: string
        }
        Update: {
          created_at?: string
          created_by?: string
          date_of_birth?: string
          id?: string
          name?: string
          notes?: string
          sex?: Database["public"]["Enums"]["profile_sex"] | null
          timezone?: string
          updated_at?: string
        }
        Relationships: []
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
          child_id: string | null
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
          child_id?: string | null
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
          child_id?: string | null
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
            foreignKeyName: "conversations_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
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
      crisis_resources: {
        Row: {
          country: string
          created_at: string
          emergency: boolean
          hours: string | null
          id: string
          is_active: boolean
          language: string
          name: string
          notes: string
          phone: string | null
          sort_order: number
          text: string | null
          updated_at: string
          url: string | null
          verified_at: string | null
        }
        Insert: {
          country: string
          created_at?: string
          emergency?: boolean
          hours?: string | null
          id?: string
          is_active?: boolean
          language: string
          name: string
          notes?: string
          phone?: string | null
          sort_order?: number
          text?: string | null
          updated_at?: string
          url?: string | null
          verified_at?: string | null
        }
        Update: {
          country?: string
          created_at?: string
          emergency?: boolean
          hours?: string | null
          id?: string
          is_active?: boolean
          language?: string
          name?: string
          notes?: string
          phone?: string | null
          sort_order?: number
          text?: string | null
          updated_at?: string
          url?: string | null
          verified_at?: string | null
        }
        Relationships: []
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
      documents: {
        Row: {
          analysis: Json | null
          analysis_model: string | null
          analyzed_at: string | null
          child_id: string
          created_at: string
          error_message: string | null
          filename: string
          id: string
          mime_type: string
          size_bytes: number
          status: Database["public"]["Enums"]["media_status"]
          storage_path: string
          text_content: string | null
          type: Database["public"]["Enums"]["document_type"]
          updated_at: string
          uploaded_by: string | null
        }
        Insert: {
          analysis?: Json | null
          analysis_model?: string | null
          analyzed_at?: string | null
          child_id: string
          created_at?: string
          error_message?: string | null
          filename: string
          id?: string
          mime_type: string
          size_bytes: number
          status?: Database["public"]["Enums"]["media_status"]
          storage_path: string
          text_content?: string | null
          type?: Database["public"]["Enums"]["document_type"]
          updated_at?: string
          uploaded_by?: string | null
        }
        Update: {
          analysis?: Json | null
          analysis_model?: string | null
          analyzed_at?: string | null
          child_id?: string
          created_at?: string
          error_message?: string | null
          filename?: string
          id?: string
          mime_type?: string
          size_bytes?: number
          status?: Database["public"]["Enums"]["media_status"]
          storage_path?: string
          text_content?: string | null
          type?: Database["public"]["Enums"]["document_type"]
          updated_at?: string
          uploaded_by?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "documents_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
        ]
      }
      expert_matches: {
        Row: {
          child_id: string
          created_at: string
          distance_km: number | null
          expert_id: string
          id: string
          reasons: string[]
          score: number
          status: Database["public"]["Enums"]["expert_match_status"]
          updated_at: string
        }
        Insert: {
          child_id: string
          created_at?: string
          distance_km?: number | null
          expert_id: string
          id?: string
          reasons?: string[]
          score: number
          status?: Database["public"]["Enums"]["expert_match_status"]
          updated_at?: string
        }
        Update: {
          child_id?: string
          created_at?: string
          distance_km?: number | null
          expert_id?: string
          id?: string
          reasons?: string[]
          score?: number
          status?: Database["public"]["Enums"]["expert_match_status"]
          updated_at?: string
        }
        Relationships: [
          {
            foreignKeyName: "expert_matches_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "expert_matches_expert_id_fkey"
            columns: ["expert_id"]
            isOneToOne: false
            referencedRelation: "experts"
            referencedColumns: ["id"]
          },
        ]
      }
      experts: {
        Row: {
          active: boolean
          bio: string
          city: string
          contact: NonNullable<Json>
          created_at: string
          id: string
          languages: string[]
          latitude: number
          longitude: number
          name: string
          rating: number | null
          reviews_count: number
          specialties: string[]
          updated_at: string
          verified: boolean
        }
        Insert: {
          active?: boolean
          bio?: string
          city: string
          contact?: NonNullable<Json>
          created_at?: string
          id?: string
          languages?: string[]
          latitude: number
          longitude: number
          name: string
          rating?: number | null
          reviews_count?: number
          specialties: string[]
          updated_at?: string
          verified?: boolean
        }
        Update: {
          active?: boolean
          bio?: string
          city?: string
          contact?: NonNullable<Json>
          created_at?: string
          id?: string
          languages?: string[]
          latitude?: number
          longitude?: number
          name?: string
          rating?: number | null
          reviews_count?: number
          specialties?: string[]
          updated_at?: string
          verified?: boolean
        }
        Relationships: []
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
      journal_entries: {
        Row: {
          author_id: string
          child_id: string
          content: string
          created_at: string
          entry_date: string
          id: string
          tags: string[]
          updated_at: string
        }
        Insert: {
          author_id?: string
          child_id: string
          content: string
          created_at?: string
          entry_date?: string
          id?: string
          tags?: string[]
          updated_at?: string
        }
        Update: {
          author_id?: string
          child_id?: string
          content?: string
          created_at?: string
          entry_date?: string
          id?: string
          tags?: string[]
          updated_at?: string
        }
        Relationships: [
          {
            foreignKeyName: "journal_entries_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
        ]
      }
      journey_events: {
        Row: {
          child_id: string
          created_at: string
          data: NonNullable<Json>
          id: number
          job_id: number | null
          journey_id: string
          kind: Database["public"]["Enums"]["journey_event_kind"]
          source: Database["public"]["Enums"]["journey_event_source"]
          tool_call_id: string | null
        }
        Insert: {
          child_id: string
          created_at?: string
          data?: NonNullable<Json>
          id?: never
          job_id?: number | null
          journey_id: string
          kind: Database["public"]["Enums"]["journey_event_kind"]
          source: Database["public"]["Enums"]["journey_event_source"]
          tool_call_id?: string | null
        }
        Update: {
          child_id?: string
          created_at?: string
          data?: NonNullable<Json>
          id?: never
          job_id?: number | null
          journey_id?: string
          kind?: Database["public"]["Enums"]["journey_event_kind"]
          source?: Database["public"]["Enums"]["journey_event_source"]
          tool_call_id?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "journey_events_journey_fkey"
            columns: ["journey_id", "child_id"]
            isOneToOne: false
            referencedRelation: "journeys"
            referencedColumns: ["id", "child_id"]
          },
          {
            foreignKeyName: "journey_events_tool_call_id_fkey"
            columns: ["tool_call_id"]
            isOneToOne: false
            referencedRelation: "tool_calls"
            referencedColumns: ["id"]
          },
        ]
      }
      journeys: {
        Row: {
          artifacts: NonNullable<Json>
          child_id: string
          completed_at: string | null
          context_cards: NonNullable<Json>
          deep_view: Json | null
          id: string
          last_activity_at: string
          milestones: NonNullable<Json>
          progress: NonNullable<Json>
          stage: Database["public"]["Enums"]["journey_stage"]
          started_at: string
        }
        Insert: {
          artifacts?: NonNullable<Json>
          child_id: string
          completed_at?: string | null
          context_cards?: NonNullable<Json>
          deep_view?: Json | null
          id?: string
          last_activity_at?: string
          milestones?: NonNullable<Json>
          progress?: NonNullable<Json>
          stage?: Database["public"]["Enums"]["journey_stage"]
          started_at?: string
        }
        Update: {
          artifacts?: NonNullable<Json>
          child_id?: string
          completed_at?: string | null
          context_cards?: NonNullable<Json>
          deep_view?: Json | null
          id?: string
          last_activity_at?: string
          milestones?: NonNullable<Json>
          progress?: NonNullable<Json>
          stage?: Database["public"]["Enums"]["journey_stage"]
          started_at?: string
        }
        Relationships: [
          {
            foreignKeyName: "journeys_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
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
          delta_attempt: number | null
          delta_seq: number | null
          error: string | null
          id: string
          input_tokens: number | null
          model: string | null
          output_tokens: number | null
          prompt_version: string | null
          reply_kind: Database["public"]["Enums"]["reply_kind"] | null
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
          delta_attempt?: number | null
          delta_seq?: number | null
          error?: string | null
          id?: string
          input_tokens?: number | null
          model?: string | null
          output_tokens?: number | null
          prompt_version?: string | null
          reply_kind?: Database["public"]["Enums"]["reply_kind"] | null
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
          delta_attempt?: number | null
          delta_seq?: number | null
          error?: string | null
          id?: string
          input_tokens?: number | null
          model?: string | null
          output_tokens?: number | null
          prompt_version?: string | null
          reply_kind?: Database["public"]["Enums"]["reply_kind"] | null
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
          country: string | null
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
          country?: string | null
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
          country?: string | null
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
      reports: {
        Row: {
          child_id: string
          content: Json | null
          created_at: string
          error_message: string | null
          focus: string
          id: string
          language: string
          model: string | null
          ready_at: string | null
          requested_by: string | null
          status: Database["public"]["Enums"]["report_status"]
          storage_path: string | null
          updated_at: string
          variant: Database["public"]["Enums"]["report_variant"]
        }
        Insert: {
          child_id: string
          content?: Json | null
          created_at?: string
          error_message?: string | null
          focus?: string
          id?: string
          language?: string
          model?: string | null
          ready_at?: string | null
          requested_by?: string | null
          status?: Database["public"]["Enums"]["report_status"]
          storage_path?: string | null
          updated_at?: string
          variant?: Database["public"]["Enums"]["report_variant"]
        }
        Update: {
          child_id?: string
          content?: Json | null
          created_at?: string
          error_message?: string | null
          focus?: string
          id?: string
          language?: string
          model?: string | null
          ready_at?: string | null
          requested_by?: string | null
          status?: Database["public"]["Enums"]["report_status"]
          storage_path?: string | null
          updated_at?: string
          variant?: Database["public"]["Enums"]["report_variant"]
        }
        Relationships: [
          {
            foreignKeyName: "reports_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
        ]
      }
      share_links: {
        Row: {
          access_count: number
          child_id: string
          created_at: string
          created_by: string | null
          document_ids: string[]
          expert_id: string | null
          expires_at: string
          id: string
          label: string
          last_accessed_at: string | null
          report_id: string | null
          revoked_at: string | null
        }
        Insert: {
          access_count?: number
          child_id: string
          created_at?: string
          created_by?: string | null
          document_ids?: string[]
          expert_id?: string | null
          expires_at: string
          id?: string
          label?: string
          last_accessed_at?: string | null
          report_id?: string | null
          revoked_at?: string | null
        }
        Update: {
          access_count?: number
          child_id?: string
          created_at?: string
          created_by?: string | null
          document_ids?: string[]
          expert_id?: string | null
          expires_at?: string
          id?: string
          label?: string
          last_accessed_at?: string | null
          report_id?: string | null
          revoked_at?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "share_links_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "share_links_expert_id_fkey"
            columns: ["expert_id"]
            isOneToOne: false
            referencedRelation: "experts"
            referencedColumns: ["id"]
          },
          {
            foreignKeyName: "share_links_report_fkey"
            columns: ["report_id", "child_id"]
            isOneToOne: false
            referencedRelation: "reports"
            referencedColumns: ["id", "child_id"]
          },
        ]
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
      videos: {
        Row: {
          analysis: Json | null
          analysis_model: string | null
          analyzed_at: string | null
          child_id: string
          created_at: string
          duration_seconds: number | null
          error_message: string | null
          id: string
          mime_type: string
          scenario: Database["public"]["Enums"]["video_scenario"]
          size_bytes: number
          status: Database["public"]["Enums"]["media_status"]
          storage_path: string
          thumbnail_path: string | null
          title: string
          updated_at: string
          uploaded_by: string | null
        }
        Insert: {
          analysis?: Json | null
          analysis_model?: string | null
          analyzed_at?: string | null
          child_id: string
          created_at?: string
          duration_seconds?: number | null
          error_message?: string | null
          id?: string
          mime_type: string
          scenario: Database["public"]["Enums"]["video_scenario"]
          size_bytes: number
          status?: Database["public"]["Enums"]["media_status"]
          storage_path: string
          thumbnail_path?: string | null
          title?: string
          updated_at?: string
          uploaded_by?: string | null
        }
        Update: {
          analysis?: Json | null
          analysis_model?: string | null
          analyzed_at?: string | null
          child_id?: string
          created_at?: string
          duration_seconds?: number | null
          error_message?: string | null
          id?: string
          mime_type?: string
          scenario?: Database["public"]["Enums"]["video_scenario"]
          size_bytes?: number
          status?: Database["public"]["Enums"]["media_status"]
          storage_path?: string
          thumbnail_path?: string | null
          title?: string
          updated_at?: string
          uploaded_by?: string | null
        }
        Relationships: [
          {
            foreignKeyName: "videos_child_id_fkey"
            columns: ["child_id"]
            isOneToOne: false
            referencedRelation: "children"
            referencedColumns: ["id"]
          },
        ]
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
      accept_child_invitation: { Args: { p_token: string }; Returns: Json }
      checkpoint_chat_replies_v1: {
        Args: { p_items: Json; p_worker: string }
        Returns: Json
      }
      child_member_names: {
        Args: { p_child_id?: string }
        Returns: {
          accepted_at: string
          child_id: string
          display_name: string
          role: Database["public"]["Enums"]["child_member_role"]
          user_id: string
        }[]
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
      create_share_link: {
        Args: {
          p_child_id: string
          p_document_ids?: string[]
          p_expert_id?: string
          p_label?: string
          p_report_id?: string
          p_valid_hours?: number
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
      find_experts: {
        Args: {
          p_child_id: string
          p_latitude: number
          p_longitude: number
          p_radius_km?: number
        }
        Returns: Json
      }
      forget_fact: { Args: { p_fact_id: string }; Returns: undefined }
      invite_child_member: {
        Args: {
          p_child_id: string
          p_email: string
          p_role?: Database["public"]["Enums"]["child_member_role"]
          p_valid_hours?: number
        }
        Returns: Json
      }
      open_share_link: { Args: { p_token: string }; Returns: Json }
      purge_finished_jobs_v1: { Args: { p_limit?: number }; Returns: number }
      put_query_embeddings_v1: {
        Args: { p_items: Json; p_job_id: number; p_worker: string }
        Returns: number
      }
      record_reply_step_v1: {
        Args: { p_job_id: number; p_step: Json; p_worker: string }
        Returns: Json
      }
      record_spent_calls_v1: {
        Args: { p_job_id: number; p_usage: Json }
        Returns: number
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
      run_reply_step_v1: {
        Args: { p_job_id: number; p_step: Json; p_worker: string }
        Returns: Json
      }
      run_tool_calls_v1: {
        Args: { p_job_id: number; p_step: number; p_worker: string }
        Returns: Json
      }
      safety_decisions_v1: { Args: { p_message_ids: string[] }; Returns: Json }
      search_knowledge: {
        Args: {
          p_child_id?: string
          p_include_shared?: boolean
          p_match_count?: number
          p_model?: string
          p_query?: string
          p_query_embedding?: string
          p_sources?: string[]
        }
        Returns: {
          child_id: string
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
      set_user_plan: {
        Args: { p_plan: string; p_set_by?: string; p_user_id: string }
        Returns: undefined
      }
      usage_status: { Args: Record<PropertyKey, never>; Returns: Json }
    }
    Enums: {
      checkin_status: "draft" | "completed"
      child_invitation_delivery:
        | "queued"
        | "auth_invite_sent"
        | "existing_account"
        | "failed"
      child_member_role: "owner" | "caregiver" | "viewer"
      conversation_context_type: "daily_planning" | "weekly_planning" | "goal"
      document_type: "diagnosis" | "report" | "medical" | "other"
      expert_match_status: "suggested" | "contacted" | "scheduled" | "completed"
      goal_status: "active" | "completed" | "paused" | "cancelled"
      goal_time_horizon: "short" | "medium" | "long"
      journey_event_kind:
        | "started"
        | "stage_changed"
        | "progress_updated"
        | "context_card_added"
        | "deep_view_triggered"
        | "milestone_added"
        | "artifact_updated"
      journey_event_source: "coach" | "worker" | "system"
      journey_stage:
        | "interview"
        | "consultation"
        | "document_upload"
        | "video_instructions"
        | "video_upload"
        | "analysis"
        | "report_ready"
        | "expert_search"
        | "meeting_prep"
        | "sharing"
      media_status: "uploaded" | "processing" | "analyzed" | "error"
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
      reply_kind: "coaching" | "crisis" | "fallback"
      report_status: "queued" | "generating" | "ready" | "error"
      report_variant: "parent" | "professional"
      task_source: "manual" | "note" | "ai" | "chat"
      task_status: "todo" | "in_progress" | "done" | "cancelled"
      tool_call_status: "pending" | "succeeded" | "failed"
      video_scenario: "free_play" | "meal_time" | "focused_activity"
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
      child_invitation_delivery: [
        "queued",
        "auth_invite_sent",
        "existing_account",
        "failed",
      ],
      child_member_role: ["owner", "caregiver", "viewer"],
      conversation_context_type: ["daily_planning", "weekly_planning", "goal"],
      document_type: ["diagnosis", "report", "medical", "other"],
      expert_match_status: ["suggested", "contacted", "scheduled", "completed"],
      goal_status: ["active", "completed", "paused", "cancelled"],
      goal_time_horizon: ["short", "medium", "long"],
      journey_event_kind: [
        "started",
        "stage_changed",
        "progress_updated",
        "context_card_added",
        "deep_view_triggered",
        "milestone_added",
        "artifact_updated",
      ],
      journey_event_source: ["coach", "worker", "system"],
      journey_stage: [
        "interview",
        "consultation",
        "document_upload",
        "video_instructions",
        "video_upload",
        "analysis",
        "report_ready",
        "expert_search",
        "meeting_prep",
        "sharing",
      ],
      media_status: ["uploaded", "processing", "analyzed", "error"],
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
      reply_kind: ["coaching", "crisis", "fallback"],
      report_status: ["queued", "generating", "ready", "error"],
      report_variant: ["parent", "professional"],
      task_source: ["manual", "note", "ai", "chat"],
      task_status: ["todo", "in_progress", "done", "cancelled"],
      tool_call_status: ["pending", "succeeded", "failed"],
      video_scenario: ["free_play", "meal_time", "focused_activity"],
    },
  },
} as const

