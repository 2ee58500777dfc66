/**
 * The outbox: operations made on the phone, in IndexedDB until the server confirms each one.
 * Nothing leaves it except by the server's success answer or by the user discarding it on purpose.
 */
import { db } from '../core/db'
import { uuid } from '../core/ids'
import type { OpType, OutboxItem, OutboxState } from './types'

export interface NewOp {
  type: OpType
  entityId: string
  baseVersion?: number | null
  payload: Record<string, unknown>
  photos?: string[]
  label: string
  userId: string | number
}

/** Adds an operation at the end of the outbox (one IndexedDB transaction, so seq is unique). */
export async function enqueue(op: NewOp): Promise<OutboxItem> {
  const now = Date.now()
  return db.transaction('rw', db.outbox, async () => {
    const last = await db.outbox.orderBy('seq').last()
    const sameEntity = await db.outbox.where('entityId').equals(op.entityId).toArray()
    const prev = sameEntity.sort((a, b) => b.seq - a.seq)[0]
    const item: OutboxItem = {
      id: uuid(),
      seq: (last?.seq ?? 0) + 1,
      type: op.type,
      entityId: op.entityId,
      baseVersion: op.baseVersion ?? null,
      prevOpId: prev?.id ?? null,
      payload: JSON.parse(JSON.stringify(op.payload)) as Record<string, unknown>,
      photos: [...(op.photos ?? [])],
      clientTime: new Date(now).toISOString(),
      userId: op.userId,
      label: op.label,
      state: 'waiting',
      attempts: 0,
      lastError: '',
      lastCode: '',
      nextAttemptAt: 0,
      createdAt: now,
      updatedAt: now,
      sentAt: null,
      progress: 0,
    }
    await db.outbox.add(item)
    return item
  })
}

export const UNSENT: OutboxState[] = ['waiting', 'sending', 'failed', 'attention']

export async function unsentItems(): Promise<OutboxItem[]> {
  const rows = await db.outbox.where('state').anyOf(UNSENT).toArray()
  return rows.sort((a, b) => a.seq - b.seq)
}

export async function recentlySent(days = 7): Promise<OutboxItem[]> {
  const since = Date.now() - days * 86400_000
  const rows = await db.outbox.where('state').equals('done').toArray()
  return rows.filter((r) => (r.sentAt ?? 0) >= since).sort((a, b) => (b.sentAt ?? 0) - (a.sentAt ?? 0))
}

/** The user asks to send again now: failed/attention items go back to waiting. */
export async function retryItem(id: string): Promise<void> {
  await db.outbox.update(id, { state: 'waiting', nextAttemptAt: 0, updatedAt: Date.now() })
}

export async function retryAll(): Promise<void> {
  await db.outbox
    .where('state')
    .anyOf(['failed', 'waiting'])
    .modify({ nextAttemptAt: 0 })
}

/** Only on the user's explicit choice (with a confirmation on screen). */
export async function discardItem(id: string): Promise<void> {
  await db.outbox.delete(id)
}

/** Sent items are kept a week so the user can see that they arrived, then forgotten. */
export async function pruneSent(days = 7): Promise<void> {
  const before = Date.now() - days * 86400_000
  await db.outbox
    .where('state')
    .equals('done')
    .filter((r) => (r.sentAt ?? 0) < before)
    .delete()
}

/**
 * Photos the server has confirmed are kept on the phone two weeks (shown without signal), then only
 * the server's copy is used. Photos of unsent items and of the capture draft are never touched.
 */
export async function prunePhotos(days = 14): Promise<number> {
  const before = Date.now() - days * 86400_000
  const keep = new Set<string>()
  for (const item of await unsentItems()) item.photos.forEach((p) => keep.add(p))
  for (const d of await db.drafts.toArray()) d.photos.forEach((p) => keep.add(p))
  const old = await db.photos
    .where('uploaded')
    .equals(1)
    .filter((p) => p.createdAt < before && !keep.has(p.sha256))
    .primaryKeys()
  await db.photos.bulkDelete(old)
  return old.length
}
