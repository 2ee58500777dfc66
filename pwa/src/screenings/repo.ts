/**
 * 月排查 on the phone: a screened village goes into the outbox (type screening.record) like every
 * record, so it is saved with no signal. The report's id is made here, so a resend never doubles it.
 * A lead turned into a case is linked by sending the same report again with the case named (the
 * server accepts a copy that only adds case links), queued after the case's own creation.
 */
import { api } from '../core/session'
import { uuid } from '../core/ids'
import { db, getMeta } from '../core/db'
import { enqueue } from '../sync/outbox'
import { emptyDraft, saveDraft } from '../cases/repo'
import { afterEnqueue } from '../sync/store'
import type { User } from '../people/types'

export interface Lead {
  summary: string
  category?: string | null
  case_id?: string | null
}

export interface ScreeningBody {
  village_code: string
  month: string
  visited_at: string
  households_visited: number
  found: Lead[]
  location: { lon: number; lat: number; accuracy_m: number; crs: 'wgs84' } | null
}

export interface ServedVillage {
  village_code: string
  village_name: string
  status: 'screened' | 'not_screened'
  screenings: number
  leads: number
}

export interface ScreeningRow {
  id: string
  month: string
  village_code: string
  village_name: string
  households_visited: number
  visited_at: string
  found: Lead[]
  /** sent: the server has it; unsent: still in this phone's outbox. */
  sent: boolean
}

/** The local month (Asia/Shanghai), YYYY-MM. */
export function currentMonth(now = new Date()): string {
  const local = new Date(now.getTime() + 8 * 3600_000)
  return local.toISOString().slice(0, 7)
}

const VILLAGES_KEY = 'fq-screening-villages'

/** The villages the team serves (GET /api/map/screenings), remembered for use offline. */
export async function servedVillages(month: string): Promise<ServedVillage[]> {
  try {
    const layer = await api.get<{ month: string; villages: ServedVillage[] }>(`/map/screenings?month=${month}`)
    localStorage.setItem(VILLAGES_KEY, JSON.stringify(layer.villages))
    return layer.villages
  } catch {
    return JSON.parse(localStorage.getItem(VILLAGES_KEY) ?? '[]') as ServedVillage[]
  }
}

/** What the user has to put right before saving ([] when the report can be saved). */
export function problems(b: { village_code: string; households_visited: number | null; found: Lead[] }, zero: boolean): string[] {
  const out: string[] = []
  if (!b.village_code) out.push('请选择排查的村（社区）')
  if (b.households_visited === null || !Number.isInteger(b.households_visited) || b.households_visited < 0) out.push('请填写走访户数（0 或以上的整数）')
  if (!zero && !b.found.length) out.push('请添加发现的矛盾纠纷线索，或点“本月未发现矛盾纠纷”')
  if (b.found.some((l) => !l.summary.trim())) out.push('每条线索都要写简要情况')
  return out
}

export async function saveScreening(body: ScreeningBody, villageName: string, user: User): Promise<string> {
  const id = uuid()
  const label = body.found.length ? `月排查：${villageName}（${body.found.length} 条线索）` : `月排查：${villageName}（未发现矛盾纠纷）`
  await enqueue({ type: 'screening.record', entityId: id, payload: { ...body }, label, userId: user.id })
  keepBody(id, body)
  await afterEnqueue()
  return id
}

const BODIES_KEY = 'fq-screening-bodies'

/** The reports as this phone sent them, so a later link repeats them exactly (the server compares). */
function bodies(): Record<string, ScreeningBody> {
  return JSON.parse(localStorage.getItem(BODIES_KEY) ?? '{}') as Record<string, ScreeningBody>
}

function keepBody(id: string, body: ScreeningBody): void {
  // The latest 100 are plenty for a month's villages (insertion order is kept by JSON objects).
  const kept = Object.entries(bodies()).filter(([k]) => k !== id).slice(-99)
  localStorage.setItem(BODIES_KEY, JSON.stringify(Object.fromEntries([...kept, [id, body]])))
}

/** This month's reports: the ones still in the outbox (unsent) and the server's (sent). */
export async function monthReports(month: string): Promise<ScreeningRow[]> {
  const queued = (await db.outbox.toArray()).filter((i) => i.type === 'screening.record' && (i.payload as unknown as ScreeningBody).month === month)
  const latest = new Map<string, (typeof queued)[number]>()
  for (const item of queued.sort((a, b) => a.seq - b.seq)) latest.set(item.entityId, item)
  const names = new Map((JSON.parse(localStorage.getItem(VILLAGES_KEY) ?? '[]') as ServedVillage[]).map((v) => [v.village_code, v.village_name]))
  const rows = new Map<string, ScreeningRow>()
  try {
    const page = await api.get<{ items: Omit<ScreeningRow, 'sent'>[] }>(`/screenings?month=${month}`)
    for (const s of page.items) rows.set(s.id, { ...s, sent: true })
  } catch {
    // Offline: what this phone holds, and the team's reports of the month as the last sync pulled
    // them (from any of the team's phones).
    const pulled = await getMeta<{ month: string; items: Omit<ScreeningRow, 'sent'>[] } | null>('screenings', null)
    if (pulled?.month === month) for (const s of pulled.items) rows.set(s.id, { ...s, sent: true })
  }
  for (const [id, item] of latest) {
    const b = item.payload as unknown as ScreeningBody
    const sent = item.state === 'done'
    if (sent && rows.has(id)) continue
    rows.set(id, { id, month: b.month, village_code: b.village_code, village_name: names.get(b.village_code) ?? b.village_code, households_visited: b.households_visited, visited_at: b.visited_at, found: b.found, sent })
  }
  return [...rows.values()].sort((a, b) => (a.visited_at < b.visited_at ? 1 : -1))
}

const PENDING_LINK = 'fq-screening-link'

/** "转为案件": the capture form prefilled from the lead (summary → title, category), and the lead
 * remembered so the case saved next is linked to it. */
export async function leadToCase(row: ScreeningRow, index: number): Promise<void> {
  const lead = row.found[index]
  const draft = emptyDraft()
  // The draft's case id goes with the link: only that case is linked (not one from a later, unrelated draft).
  localStorage.setItem(PENDING_LINK, JSON.stringify({ row, index, caseId: draft.caseId }))
  const summary = lead.summary.trim()
  await saveDraft({ ...draft, title: summary.slice(0, 100), description: summary, category: lead.category ?? '' })
}

/** After the capture form saved a case: if it came from a lead, queue the report again naming it. */
export async function linkSavedCase(caseId: string, user: User): Promise<void> {
  const raw = localStorage.getItem(PENDING_LINK)
  if (!raw) return
  localStorage.removeItem(PENDING_LINK)
  const { row, index, caseId: expected } = JSON.parse(raw) as { row: ScreeningRow; index: number; caseId: string }
  if (expected !== caseId) return // the lead's draft was discarded and another case written
  const body: ScreeningBody = bodies()[row.id] ?? {
    village_code: row.village_code,
    month: row.month,
    visited_at: row.visited_at,
    households_visited: row.households_visited,
    found: row.found.map((l) => ({ summary: l.summary, category: l.category ?? null })),
    location: null,
  }
  const found = body.found.map((l, i) => (i === index ? { ...l, case_id: caseId } : l))
  await enqueue({ type: 'screening.record', entityId: row.id, payload: { ...body, found }, label: `月排查线索转为案件：${row.village_name}`, userId: user.id })
  keepBody(row.id, { ...body, found })
}
