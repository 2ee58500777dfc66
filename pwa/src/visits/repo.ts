/** Recording a visit: into the outbox (type visit.record), shown at once as 已记录，待发送. */
import { db } from '../core/db'
import { enqueue } from '../sync/outbox'
import { afterEnqueue } from '../sync/store'
import type { User } from '../people/types'
import type { Performance, Satisfaction, VisitMethod, VisitRecord } from './types'

/** The form as filled in: nothing is chosen for the user (a pre-filled 满意 would inflate 满意率). */
export interface VisitForm {
  method: VisitMethod | null
  satisfaction: Satisfaction | null
  recurred: boolean | null
  performance: Performance | null
  /** A written agreement's obligations, one answer each by index; the whole is then derived by the server. */
  obligations?: (Performance | null)[]
  notes: string
  photos: string[]
  fix: { lon: number; lat: number; accuracy: number } | null
}

/** The fields still unanswered, by name (the form highlights them). */
export function unanswered(f: VisitForm, hasAgreement: boolean): string[] {
  const out: string[] = []
  if (!f.method) out.push('method')
  if (!f.satisfaction) out.push('satisfaction')
  if (f.recurred === null) out.push('recurred')
  if (f.obligations?.length) f.obligations.forEach((p, i) => !p && out.push(`obligation-${i}`))
  else if (hasAgreement && !f.performance) out.push('performance')
  return out
}

export function recordBody(f: VisitForm, doneAt = new Date()): Record<string, unknown> {
  return {
    method: f.method,
    satisfaction: f.satisfaction,
    recurred: f.recurred,
    ...(f.performance && !f.obligations?.length ? { performance: f.performance } : {}),
    ...(f.obligations?.length ? { obligations: f.obligations.map((performance, obligation) => ({ obligation, performance })) } : {}),
    notes: f.notes.trim(),
    photos: f.photos,
    visited_at: doneAt.toISOString(),
    location: f.fix ? { lon: f.fix.lon, lat: f.fix.lat, accuracy_m: f.fix.accuracy, crs: 'wgs84' } : null,
  }
}

export async function recordVisit(v: VisitRecord, f: VisitForm, user: User): Promise<void> {
  await db.transaction('rw', db.visits, db.outbox, db.cases, async () => {
    await enqueue({
      type: 'visit.record',
      entityId: v.id,
      payload: recordBody(f),
      photos: f.photos,
      label: `回访记录：${v.caseTitle || v.caseNumber}`,
      userId: user.id,
    })
    await db.visits.update(v.id, { state: 'recorded', satisfaction: f.satisfaction, doneAt: new Date().toISOString() })
    // The case page shows the visit as recorded at once (the server's answer replaces this later).
    const c = await db.cases.get(v.caseId)
    if (c?.view.visits) {
      const visits = c.view.visits.map((x) => (x.id === v.id ? { ...x, status: 'done', status_label: '已回访（待发送）' } : x))
      await db.cases.update(v.caseId, { view: { ...c.view, visits } })
    }
  })
  await afterEnqueue()
}
