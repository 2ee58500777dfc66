/**
 * The supervisors' map API (GET /api/map/*, /api/teams, /api/grids) and its shapes. Map rows are
 * compact arrays (`fields` names the columns) so 50,000 cases stay a few megabytes of JSON.
 */
import type { Geometry } from 'geojson'
import { api } from '../core/session'
import type { Rate } from '../reports/api'

export type Tiles = 'none' | 'tianditu' | 'osm'
export type CellLevel = 'township' | 'village' | 'grid'
export type Metric = 'open' | 'overdue' | 'new'

export interface MapConfig {
  tiles: Tiles
  tianditu_key: string | null
  /** null when no grids are loaded yet. */
  bounds: [number, number, number, number] | null
  township: string | null
}

export interface CellValue {
  code: string
  name: string
  value: number
}

export interface CellsResponse {
  level: CellLevel
  metric: Metric
  cells: CellValue[]
  max: number
}

export interface CellDetail {
  code: string
  name: string
  level: CellLevel
  total: number
  open: number
  overdue: number
  conflict: number
  by_state: Record<string, number>
  rates?: Rate[]
}

/** One case on the map, decoded from a compact row. */
export interface MapCase {
  id: string
  lon: number
  lat: number
  state: string
  category: string
  level: string
  overdue: boolean
  conflict: boolean
  number: string
  title: string
  /** 风险等级 green | yellow | red. */
  risk: string
  /** The mediation deadline's countdown: local days left (negative: overdue), and its colour
   * (green, yellow with 7 days or less, red overdue); null out of mediation. */
  days_left: number | null
  deadline_colour: string | null
  /** The 包案领导's user id, null when no leader is in charge. */
  leader: number | null
}

export interface MapCasesResponse {
  fields: string[]
  rows: unknown[][]
  total: number
  truncated: boolean
}

export interface TeamMember {
  name: string
  /** The member's account, when they have one: only those can be assigned as mediator. */
  user_id?: number | null
  id?: number | null
  kind?: string
  role?: string
  is_leader?: boolean
}

export interface Team {
  id: number
  name: string
  township?: { code: string; name: string } | null
  township_code?: string
  members: TeamMember[]
}

/** The user id to assign a member by (the server's `user_id`; the contract's `id`). */
export function memberUserId(m: TeamMember): number | null {
  return m.user_id ?? m.id ?? null
}

export interface GridFeature {
  type: 'Feature'
  id?: string
  properties: { code: string; name: string; level: CellLevel; parent_code: string | null }
  geometry: Geometry
}

export interface GridCollection {
  type: 'FeatureCollection'
  features: GridFeature[]
}

/** Server-side filters of GET /api/map/cases (and, by the same names, the map's filter form). */
export interface CaseFilters {
  state: string[]
  category: string[]
  level: string[]
  /** The risk layer: green, yellow, red. */
  risk: string[]
  from: string
  to: string
  overdue: boolean
  conflict: boolean
  /** 只看我的包案: a leader's own cases. */
  mine: boolean
}

export function emptyFilters(): CaseFilters {
  return { state: [], category: [], level: [], risk: [], from: '', to: '', overdue: false, conflict: false, mine: false }
}

function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

/** How many markers the map asks for at most (the server's own maximum). */
export const MAP_LIMIT = 50_000

export const MAP_FIELDS = ['id', 'lon', 'lat', 'state', 'category', 'level', 'overdue', 'conflict', 'number', 'title', 'risk', 'days_left', 'deadline_colour', 'leader']

/** Decodes compact rows by the response's own `fields`, so a reordered or extended list still works. */
export function decodeRows(fields: string[], rows: unknown[][]): MapCase[] {
  const at = (name: string) => fields.indexOf(name)
  const ix = MAP_FIELDS.map(at)
  return rows.map((r) => ({
    id: String(r[ix[0]]),
    lon: Number(r[ix[1]]),
    lat: Number(r[ix[2]]),
    state: String(r[ix[3]]),
    category: String(r[ix[4]]),
    level: String(r[ix[5]]),
    overdue: !!r[ix[6]],
    conflict: !!r[ix[7]],
    number: ix[8] >= 0 ? String(r[ix[8]] ?? '') : '',
    title: ix[9] >= 0 ? String(r[ix[9]] ?? '') : '',
    risk: ix[10] >= 0 ? String(r[ix[10]] ?? 'green') : 'green',
    days_left: ix[11] >= 0 && r[ix[11]] != null ? Number(r[ix[11]]) : null,
    deadline_colour: ix[12] >= 0 && r[ix[12]] != null ? String(r[ix[12]]) : null,
    leader: ix[13] >= 0 && r[ix[13]] != null ? Number(r[ix[13]]) : null,
  }))
}

/** The countdown in words, for a marker or a list (剩 N 天, 今日到期, 逾期 N 天); '' when none. */
export function countdownText(colour: string | null | undefined, days: number | null | undefined): string {
  if (!colour || days == null) return ''
  if (colour === 'red') return days < 0 ? `逾期 ${-days} 天` : '已逾期'
  return days === 0 ? '今日到期' : `剩 ${days} 天`
}

export function getConfig(): Promise<MapConfig> {
  return api.get<MapConfig>('/map/config')
}

/** The choropleth follows the category and level filters too (the server counts in SQL). */
export function getCells(
  level: CellLevel,
  metric: Metric,
  f: Pick<CaseFilters, 'from' | 'to' | 'category' | 'level'>,
): Promise<CellsResponse> {
  const params = { level, metric, from: f.from, to: f.to, category: f.category.join(','), case_level: f.level.join(',') }
  return api.get<CellsResponse>(`/map/cells${query(params)}`)
}

export function getCell(code: string): Promise<CellDetail> {
  return api.get<CellDetail>(`/map/cells/${encodeURIComponent(code)}`)
}

/** Markers in a box (null: the whole of the user's area). */
export async function getCases(
  bbox: [number, number, number, number] | null,
  f: Partial<CaseFilters>,
  limit: number,
  signal?: AbortSignal,
): Promise<{ cases: MapCase[]; total: number; truncated: boolean }> {
  const path = `/map/cases${query({
    bbox: bbox?.map((n) => n.toFixed(5)).join(','),
    state: f.state?.join(','),
    category: f.category?.join(','),
    level: f.level?.join(','),
    risk: f.risk?.join(','),
    from: f.from,
    to: f.to,
    overdue: f.overdue ? 1 : undefined,
    conflict: f.conflict ? 1 : undefined,
    leader: f.mine ? 'me' : undefined,
    limit,
  })}`
  const res = await api.get<MapCasesResponse>(path, { signal })
  return { cases: decodeRows(res.fields, res.rows), total: res.total, truncated: res.truncated }
}

export function getTeams(township?: string | null): Promise<Team[]> {
  return api.get<Team[]>(`/teams${query({ township })}`)
}

const gridCache = new Map<CellLevel, Promise<GridCollection>>()

/** Boundaries of the caller's area at a level (the server scopes `township=mine`); fetched once a page. */
export function getGrids(level: CellLevel): Promise<GridCollection> {
  let p = gridCache.get(level)
  if (!p) {
    p = api.get<GridCollection>(`/grids${query({ level, township: 'mine' })}`)
    p.catch(() => gridCache.delete(level))
    gridCache.set(level, p)
  }
  return p
}

let prefetched: { at: number; promise: ReturnType<typeof getCases> } | null = null

/**
 * Starts the first, unfiltered load of the area's cases as soon as the router enters /map, while the
 * map's own chunk (Leaflet) is still loading; MapView takes it over.
 */
export function prefetchAreaCases(limit: number): void {
  const promise = getCases(null, {}, limit)
  promise.catch(() => {}) // MapView reports the error when it takes the promise over
  prefetched = { at: Date.now(), promise }
}

/** The prefetched load, once, if it is fresh (a few seconds old at most). */
export function takePrefetchedCases(): ReturnType<typeof getCases> | null {
  const p = prefetched
  prefetched = null
  return p && Date.now() - p.at < 10_000 ? p.promise : null
}
