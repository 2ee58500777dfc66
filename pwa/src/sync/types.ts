/** The outbox: every operation made on the phone, kept until the server has confirmed it. */

export type OpType = 'case.create' | 'case.update' | 'case.note' | 'case.action' | 'visit.record' | 'screening.record'

/**
 * waiting   – not sent yet (or will be retried automatically after a network failure)
 * sending   – being sent now
 * failed    – the server refused it or it kept failing; the reason is shown, the user can retry
 * attention – needs a person: e.g. 409 (same id, different content), a conflict, a revoked device
 * done      – confirmed by the server; kept a while so the user can see it arrived
 */
export type OutboxState = 'waiting' | 'sending' | 'failed' | 'attention' | 'done'

export interface OutboxItem {
  /** The op_id: a UUID made on the phone, so a resend is recognised by the server. */
  id: string
  /** Order of creation on this phone (monotonic). */
  seq: number
  type: OpType
  /** The case or visit the operation is about (its UUID). */
  entityId: string
  baseVersion: number | null
  /** This phone's previous operation on the same entity: the server applies this one after it. */
  prevOpId: string | null
  payload: Record<string, unknown>
  /** Photos (SHA-256) that must reach the server before this operation is sent. */
  photos: string[]
  clientTime: string
  /** Who made it: an item is only sent with this user's session. */
  userId: string | number
  /** A short Chinese description for the outbox screen, e.g. 登记纠纷：邻居修房占用通道. */
  label: string
  state: OutboxState
  attempts: number
  /** Human reason of the last failure (Chinese) and the server's code, if any. */
  lastError: string
  lastCode: string
  /** Don't retry automatically before this time (epoch ms). */
  nextAttemptAt: number
  createdAt: number
  updatedAt: number
  sentAt: number | null
  /** Photo upload progress while sending, 0..1. */
  progress: number
  /** Server's answer on success (e.g. the case number). */
  result?: Record<string, unknown>
}

/** A photo kept on the phone (already downscaled) until it is uploaded. */
export interface PhotoRow {
  sha256: string
  blob: Blob
  thumb: Blob
  width: number
  height: number
  bytes: number
  /** 0 = not yet confirmed by the server, 1 = the server has it (Dexie indexes numbers, not booleans). */
  uploaded: 0 | 1
  createdAt: number
}

export interface PushResult {
  op_id: string
  status: 'applied' | 'duplicate' | 'conflict' | 'rejected' | 'deferred' | 'retry'
  code?: string | null
  message?: string | null
  server_version?: number | null
  /** For `duplicate`: how the first arrival of this op stands. */
  original_status?: string | null
  missing_photos?: string[] | null
  /** Whatever else the server sends back (e.g. the case number, missing photos). */
  [k: string]: unknown
}

export interface SyncStatus {
  running: boolean
  lastSyncAt: number | null
  lastError: string
  pending: number
  attention: number
  /** Photo upload progress of the current run, 0..1, or null. */
  progress: number | null
  nextRunAt: number | null
}
