/**
 * The phone's local database (IndexedDB via Dexie). Each domain adds its tables here in a new
 * `version(n)` block; never edit an old block, Dexie upgrades phones from whatever version they have.
 */
import { Dexie, type Table } from 'dexie'
import type { Tokens } from './types'
import type { User } from '../people/types'

/** The signed-in session; one row with key "current". Kept 30 days so a phone works offline. */
export interface SessionRow extends Tokens {
  key: 'current'
  user: User
  deviceName: string
  /** When the user was last confirmed by GET /api/me (epoch ms), or null. */
  userCheckedAt: number | null
  savedAt: number
}

export class FengqiaoDB extends Dexie {
  session!: Table<SessionRow, string>
  // Later: outbox (unsent ops), cases, photos, categories, grids, visits ...

  constructor(name = 'fengqiao') {
    super(name)
    this.version(1).stores({
      session: 'key',
    })
  }
}

export const db = new FengqiaoDB()
