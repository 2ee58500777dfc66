/**
 * The phone's local database (IndexedDB via Dexie). Each domain adds its tables here in a new
 * `version(n)` block; never edit an old block, Dexie upgrades phones from whatever version they have.
 *
 * What lives here is what must survive a closed app, a reboot and days without signal: the session,
 * the outbox (unsent operations) and their photos, the capture draft, and the pulled data the phone
 * works from offline (cases, visits, inbox, categories, grid polygons).
 */
import { Dexie, type Table } from 'dexie'
import type { Tokens } from './types'
import type { User } from '../people/types'
import type { OutboxItem, PhotoRow } from '../sync/types'
import type { CaseRecord, CategoryRow, DraftRow } from '../cases/types'
import type { VisitRecord } from '../visits/types'
import type { InboxRow } from '../notify/types'
import type { PolygonGeometry } from './geo'

/** The signed-in session; one row with key "current". Kept 30 days so a phone works offline. */
export interface SessionRow extends Tokens {
  key: 'current'
  user: User
  deviceName: string
  /** When the user was last confirmed by GET /api/me (epoch ms), or null. */
  userCheckedAt: number | null
  savedAt: number
}

/** Small key/value facts: sync cursor, last sync time, grid ETag, ... */
export interface MetaRow {
  key: string
  value: unknown
}

/** One polygon of the user's township (township, village or grid level), for locating offline. */
export interface GridRow {
  code: string
  level: 'township' | 'village' | 'grid'
  name: string
  parentCode: string | null
  geometry: PolygonGeometry
}

export class FengqiaoDB extends Dexie {
  session!: Table<SessionRow, string>
  outbox!: Table<OutboxItem, string>
  photos!: Table<PhotoRow, string>
  drafts!: Table<DraftRow, string>
  cases!: Table<CaseRecord, string>
  visits!: Table<VisitRecord, string>
  inbox!: Table<InboxRow, string>
  categories!: Table<CategoryRow, string>
  grids!: Table<GridRow, string>
  meta!: Table<MetaRow, string>

  constructor(name = 'fengqiao') {
    super(name)
    this.version(1).stores({
      session: 'key',
    })
    this.version(2).stores({
      // seq orders the outbox (the phone's order is the server's order per entity).
      outbox: 'id, seq, state, entityId, userId',
      photos: 'sha256, uploaded',
      drafts: 'key',
      cases: 'id, state, updatedAt',
      visits: 'id, caseId, dueDate, state',
      inbox: 'id, createdAt',
      categories: 'code',
      grids: 'code, level',
      meta: 'key',
    })
  }
}

export const db = new FengqiaoDB()

export async function getMeta<T>(key: string, fallback: T): Promise<T> {
  const row = await db.meta.get(key)
  return row === undefined ? fallback : (row.value as T)
}

export async function setMeta(key: string, value: unknown): Promise<void> {
  await db.meta.put({ key, value })
}
