/** Recording a visit: into the outbox (type visit.record), shown at once as 已记录，待发送. */
import { db } from '../core/db'
import { enqueue } from '../sync/outbox'
import { afterEnqueue } from '../sync/store'
import type { User } from '../people/types'
import type { Satisfaction, VisitMethod, VisitRecord } from './types'

export interface VisitForm {
  method: VisitMethod
  satisfaction: Satisfaction
  recurred: boolean
  notes: string
  photos: string[]
  fix: { lon: number; lat: number; accuracy: number } | null
}

export function recordBody(f: VisitForm, doneAt = new Date()): Record<string, unknown> {
  return {
    method: f.method,
    satisfaction: f.satisfaction,
    recurred: f.recurred,
    notes: f.notes.trim(),
    photos: f.photos,
    visited_at: doneAt.toISOString(),
    location: f.fix ? { lon: f.fix.lon, lat: f.fix.lat, accuracy_m: f.fix.accuracy, crs: 'wgs84' } : null,
  }
}

export async function recordVisit(v: VisitRecord, f: VisitForm, user: User): Promise<void> {
  await db.transaction('rw', db.visits, db.outbox, async () => {
    await enqueue({
      type: 'visit.record',
      entityId: v.id,
      payload: recordBody(f),
      photos: f.photos,
      label: `回访记录：${v.caseTitle || v.caseNumber}`,
      userId: user.id,
    })
    await db.visits.update(v.id, { state: 'recorded', satisfaction: f.satisfaction, doneAt: new Date().toISOString() })
  })
  await afterEnqueue()
}
