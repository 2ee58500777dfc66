/**
 * What the phone pulls so it can work offline: its cases and visits (the change feed of
 * GET /api/sync/pull, by cursor), the inbox, and reference data (categories, the polygons of the
 * user's township for locating a new case without signal).
 */
import { ApiError } from '../core/errors'
import { db, getMeta, setMeta, type GridRow } from '../core/db'
import type { CaseRecord, CaseView, CategoryRow } from '../cases/types'
import type { VisitRecord } from '../visits/types'
import type { InboxRow } from '../notify/types'
import { syncEndpointMissing, type EngineApi, type Puller } from './engine'

type Json = Record<string, unknown>

async function getJson(api: EngineApi, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; res: Response }> {
  const res = await api.raw('GET', path, { headers })
  if (res.status === 304) return { status: res.status, body: null, res }
  if (!res.ok) throw await ApiError.fromResponse(res)
  return { status: res.status, body: await res.json(), res }
}

// ---- mapping the server's records onto the phone's tables ---------------------------------------

export function caseRecord(view: CaseView, detailed: boolean, prev?: CaseRecord): CaseRecord {
  // A list item must not throw away a detail already held for the same version.
  if (prev && prev.detailed && !detailed && prev.view.version === view.version) return prev
  const pending = (prev?.view.events ?? []).filter((e) => e.local)
  if (prev && pending.length && !prev.localOnly) {
    // Actions still in the outbox stay on show (marked 待发送) over the server's view until sent;
    // onApplied drops them when the server confirms (see dropLocal).
    const predicted = pending.some((e) => e.action !== 'note')
    view = {
      ...view,
      events: [...(view.events ?? []), ...pending],
      state: predicted ? prev.view.state : view.state,
      agreement: view.agreement ?? prev.view.agreement,
      allowed_actions: [],
    }
  }
  return {
    id: view.id,
    view: detailed || !prev?.detailed ? view : { ...prev.view, ...view },
    detailed: detailed || (prev?.detailed ?? false),
    localOnly: false,
    state: view.state,
    updatedAt: view.updated_at,
    localPhotos: prev?.localPhotos ?? [],
  }
}

function str(v: unknown, d = ''): string {
  return typeof v === 'string' ? v : v == null ? d : String(v)
}

function ref(v: unknown): string {
  if (v && typeof v === 'object' && 'name' in v) return str((v as Json).name)
  return str(v)
}

/** The server confirmed every outbox item of this case: its own view alone is shown again. */
export function dropLocal(rec: CaseRecord): CaseRecord {
  return { ...rec, view: { ...rec.view, events: (rec.view.events ?? []).filter((e) => !e.local) } }
}

export function visitRecord(v: Json): VisitRecord {
  const c = (v.case && typeof v.case === 'object' ? v.case : {}) as Json
  return {
    id: str(v.id),
    caseId: str(v.case_id ?? c.id ?? v.case),
    caseNumber: str(v.case_number ?? c.number),
    caseTitle: str(v.case_title ?? c.title),
    dueDate: str(v.due_date).slice(0, 10),
    // The server says scheduled | due | overdue | done | cancelled; the phone works out "due" itself.
    state: ['scheduled', 'due', 'overdue', 'pending'].includes(str(v.status ?? v.state, 'pending')) ? 'pending' : str(v.status ?? v.state),
    seq: Number(v.seq ?? 1),
    ofTotal: Number(v.of_total ?? 1),
    villageName: ref(v.village ?? c.village ?? ''),
    assigneeName: ref(v.assignee ?? ''),
    doneAt: (v.done_at as string) ?? null,
    satisfaction: (v.satisfaction as VisitRecord['satisfaction']) ?? null,
    raw: v,
  }
}

export function inboxRow(n: Json): InboxRow {
  return {
    id: str(n.id),
    title: str(n.title),
    body: str(n.body),
    url: str(n.url, '/'),
    kind: str(n.kind),
    createdAt: str(n.created_at),
    readAt: (n.read_at as string) ?? null,
  }
}

// ---- the puller -----------------------------------------------------------------------------------

export const REF_PARTS = ['categories', 'teams', 'divisions', 'grids', 'screenings'] as const

export class DataPuller implements Puller {
  /** `keepsCases`: whether the signed-in user keeps their cases on this device (sync/offline.ts). */
  constructor(private readonly keepsCases: () => boolean = () => true) {}

  async pull(api: EngineApi): Promise<void> {
    if (!this.keepsCases()) await this.dropServerCopies()
    await this.pullFeed(api)
    await this.pullVisits(api)
    await this.pullInbox(api)
    // The feed sends regions only when their version changed: a phone that lost them asks directly.
    if (!(await db.grids.count())) await this.pullGrids(api)
  }

  /** GET /api/sync/pull by cursor until `more` is false. */
  private async pullFeed(api: EngineApi): Promise<void> {
    let cursor = await getMeta<string>('pullCursor', '')
    for (let page = 0; page < 100; page++) {
      const versions = await getMeta<Record<string, string>>('refVersions', {})
      const q = new URLSearchParams({ limit: '200' })
      if (cursor) q.set('cursor', cursor)
      const known = REF_PARTS.filter((k) => versions[k]).map((k) => `${k}:${versions[k]}`)
      if (known.length) q.set('ref', known.join(','))
      const { body } = await getJson(api, `/sync/pull?${q}`).catch((e: unknown) => {
        throw e instanceof ApiError && (e.status === 404 || e.status === 405) ? new ApiError(e.status, e.code, syncEndpointMissing(e.status), e.messageEn) : e
      })
      const b = (body ?? {}) as Json
      // The user's area or team changed: what the phone holds is no longer theirs to keep.
      if (b.reset) await db.cases.filter((c) => !c.localOnly).delete()
      await this.applyChanges((b.changes as Json[]) ?? [])
      await this.applyReference((b.reference as Json) ?? {})
      cursor = str(b.cursor, cursor)
      await setMeta('pullCursor', cursor)
      if (!b.more) break
    }
  }

  /** A device that keeps no copy (a supervisor's) holds only the cases it showed or has unsent work
   *  on: what an earlier version pulled for the whole area goes, once. */
  private async dropServerCopies(): Promise<void> {
    if ((await getMeta<string>('caseCopy', '')) === 'shown') return
    await db.cases.filter((c) => !c.localOnly && !(c.view.events ?? []).some((e) => e.local)).delete()
    await setMeta('caseCopy', 'shown')
  }

  private async applyChanges(changes: Json[]): Promise<void> {
    if (!this.keepsCases()) return
    for (const c of changes) {
      const kind = str(c.kind ?? c.entity ?? 'case')
      const id = str(c.id ?? c.entity_id)
      const gone = c.op === 'left_scope' || c.op === 'delete'
      const data = (c.case ?? c.data ?? null) as Json | null
      if (kind !== 'case') continue
      if (gone) {
        const rec = await db.cases.get(id)
        if (rec && !rec.localOnly) await db.cases.delete(id)
      } else if (data) {
        const prev = await db.cases.get(id)
        await db.cases.put(caseRecord(data as unknown as CaseView, 'events' in data, prev))
      }
    }
  }

  /** Reference parts come only when their version changed; each is stored with its version. */
  private async applyReference(ref: Json): Promise<void> {
    const versions = await getMeta<Record<string, string>>('refVersions', {})
    const part = (k: string) => ref[k] as { version: string; data: unknown } | undefined
    const cats = part('categories')
    if (cats && Array.isArray(cats.data)) await this.storeCategories(cats.data as CategoryRow[])
    // The township's teams and their members: whom a team leader assigns to, offline too.
    const teams = part('teams')
    if (teams && Array.isArray(teams.data)) await setMeta('teams', teams.data)
    // This month's 月排查 reports of the user's team: which villages are screened, offline too.
    const screenings = part('screenings')
    if (screenings) await setMeta('screenings', screenings.data)
    const divisions = part('divisions')
    const grids = part('grids')
    if (divisions || grids) {
      const divRows = divisions && Array.isArray(divisions.data) ? (divisions.data as Json[]) : null
      await this.storeRegions(divRows, grids ? ((grids.data as Json)?.features as Json[] | undefined) ?? [] : null)
    }
    for (const k of REF_PARTS) if (part(k)) versions[k] = part(k)!.version
    await setMeta('refVersions', versions)
  }

  /** Villages and townships (names, no geometry) from `divisions`, grid cells from `grids`. */
  private async storeRegions(divisions: Json[] | null, cells: Json[] | null): Promise<void> {
    await db.transaction('rw', db.grids, async () => {
      if (divisions) {
        await db.grids.where('level').anyOf(['township', 'village']).delete()
        await db.grids.bulkPut(
          divisions
            .filter((d) => d.level === 'township' || d.level === 'village')
            .map((d) => ({ code: str(d.code), level: d.level as 'township' | 'village', name: str(d.name), parentCode: (d.parent_code as string) ?? null, geometry: { type: 'Polygon' as const, coordinates: [] } })),
        )
      }
      if (cells) {
        await db.grids.where('level').equals('grid').delete()
        await db.grids.bulkPut(
          cells.map((f) => {
            const p = f.properties as Json
            return { code: str(p.code), level: 'grid' as const, name: str(p.name), parentCode: (p.parent_code as string) ?? null, geometry: f.geometry as GridRow['geometry'] }
          }),
        )
      }
    })
    await setMeta('gridsVersion', Date.now())
  }

  private async pullVisits(api: EngineApi): Promise<void> {
    const { body } = await getJson(api, '/visits?mine=1&limit=200')
    const items = (Array.isArray(body) ? body : ((body as Json).items as Json[])) ?? []
    const rows = items.map(visitRecord)
    const keep = new Set(rows.map((r) => r.id))
    // A visit recorded on this phone and not yet confirmed keeps its local state.
    const local = await db.visits.where('state').equals('recorded').toArray()
    await db.transaction('rw', db.visits, async () => {
      await db.visits.bulkDelete((await db.visits.toCollection().primaryKeys()).filter((k) => !keep.has(k)))
      await db.visits.bulkPut(rows.map((r) => (local.find((l) => l.id === r.id && r.state === 'pending') ? { ...r, state: 'recorded' } : r)))
    })
  }

  private async pullInbox(api: EngineApi): Promise<void> {
    const { body } = await getJson(api, '/inbox?limit=100')
    const items = (Array.isArray(body) ? body : ((body as Json).items as Json[])) ?? []
    const pending = new Set((await db.inbox.filter((r) => !!r.readPending).toArray()).map((r) => r.id))
    await db.transaction('rw', db.inbox, async () => {
      await db.inbox.clear()
      await db.inbox.bulkPut(items.map(inboxRow).map((r) => (pending.has(r.id) ? { ...r, readPending: true, readAt: r.readAt ?? new Date().toISOString() } : r)))
    })
    // Reads made offline are told now.
    for (const id of pending) {
      const res = await api.raw('POST', `/inbox/${id}/read`)
      if (res.ok || res.status === 404) await db.inbox.update(id, { readPending: false })
    }
  }

  private async storeCategories(rows: CategoryRow[]): Promise<void> {
    await db.transaction('rw', db.categories, async () => {
      await db.categories.clear()
      await db.categories.bulkPut(rows.map((r) => ({ code: r.code, name: r.name, national_category: r.national_category, active: r.active !== false })))
    })
  }

  /** The user's township polygons (villages and grid cells), fetched again only when the ETag changes. */
  private async pullGrids(api: EngineApi): Promise<void> {
    const rows: GridRow[] = []
    let changed = false
    for (const level of ['village', 'grid'] as const) {
      const etag = await getMeta<string>(`gridsEtag:${level}`, '')
      const have = await db.grids.where('level').equals(level).count()
      const { status, body, res } = await getJson(api, `/grids?level=${level}&township=mine`, etag && have ? { 'If-None-Match': etag } : {})
      if (status !== 200) {
        rows.push(...(await db.grids.where('level').equals(level).toArray()))
        continue
      }
      changed = true
      for (const f of ((body as Json).features as Json[]) ?? []) {
        const p = f.properties as Json
        rows.push({ code: str(p.code), level, name: str(p.name), parentCode: (p.parent_code as string) ?? null, geometry: f.geometry as GridRow['geometry'] })
      }
      await setMeta(`gridsEtag:${level}`, res.headers.get('ETag') ?? '')
    }
    if (!changed) return
    // Township names (no geometry): from /api/regions.
    const { status, body } = await getJson(api, '/regions?level=township')
    if (status === 200 && Array.isArray(body)) {
      const wanted = new Set(rows.filter((r) => r.level === 'village').map((r) => r.parentCode))
      for (const t of body as Json[]) {
        if (wanted.has(str(t.code))) rows.push({ code: str(t.code), level: 'township', name: str(t.name), parentCode: null, geometry: { type: 'Polygon', coordinates: [] } })
      }
    }
    await db.transaction('rw', db.grids, async () => {
      await db.grids.clear()
      await db.grids.bulkPut(rows)
    })
    await setMeta('gridsVersion', Date.now())
  }
}
