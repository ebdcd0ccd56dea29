// Compiled by `tsc -p types` in the tests (never shipped): the generated types and their helpers resolve.
import type { Database, Tables, TablesInsert, TablesUpdate } from "./database.types"

type TableName = keyof Database["public"]["Tables"]

export type AnyRow = Tables<TableName>
export type AnyInsert = TablesInsert<TableName>
export type AnyUpdate = TablesUpdate<TableName>
export type Schemas = keyof Database
