/**
 * Locating a point in the user's township offline: which township, village and grid cell it is in,
 * from the polygons pulled from GET /api/grids. Same rules as the server (grids/locate.py):
 * inside, `boundary` when within 50 m of the cell's edge (ask the user to confirm), `nearest` when
 * outside every cell but within 500 m, else `outside`. Distances in metres on a local flat projection,
 * which is exact enough at these scales.
 */

export type Position = [number, number] // [lon, lat]
export type Ring = Position[]
export type PolygonGeometry = { type: 'Polygon'; coordinates: Ring[] } | { type: 'MultiPolygon'; coordinates: Ring[][] }

export interface Region {
  code: string
  level: 'township' | 'village' | 'grid'
  name: string
  parentCode: string | null
  geometry: PolygonGeometry
}

export type LocateStatus = 'inside' | 'boundary' | 'nearest' | 'outside' | 'unknown'

export interface Place {
  township: { code: string; name: string } | null
  village: { code: string; name: string } | null
  grid: { code: string; name: string } | null
  status: LocateStatus
  /** Distance to the cell's edge (inside) or to the cell (nearest), metres. */
  distanceM: number | null
}

export const BOUNDARY_M = 50
export const NEAREST_M = 500
const EARTH_R = 6371008.8

function polygons(g: PolygonGeometry): Ring[][] {
  return g.type === 'Polygon' ? [g.coordinates] : g.coordinates
}

/** Even-odd ray casting on one ring. */
function inRing(x: number, y: number, ring: Ring): boolean {
  let inside = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]
    const [xj, yj] = ring[j]
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}

export function pointInPolygon(lon: number, lat: number, g: PolygonGeometry): boolean {
  return polygons(g).some((rings) => rings.length > 0 && inRing(lon, lat, rings[0]) && !rings.slice(1).some((h) => inRing(lon, lat, h)))
}

/** Distance in metres from a point to the nearest edge of the geometry (any ring). */
export function distanceToEdgeM(lon: number, lat: number, g: PolygonGeometry): number {
  const kx = (Math.PI / 180) * EARTH_R * Math.cos((lat * Math.PI) / 180)
  const ky = (Math.PI / 180) * EARTH_R
  let best = Infinity
  for (const rings of polygons(g)) {
    for (const ring of rings) {
      for (let i = 1; i < ring.length; i++) {
        const ax = (ring[i - 1][0] - lon) * kx
        const ay = (ring[i - 1][1] - lat) * ky
        const bx = (ring[i][0] - lon) * kx
        const by = (ring[i][1] - lat) * ky
        const dx = bx - ax
        const dy = by - ay
        const len2 = dx * dx + dy * dy
        const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2))
        const d = Math.hypot(ax + t * dx, ay + t * dy)
        if (d < best) best = d
      }
    }
  }
  return best
}

function bboxOf(g: PolygonGeometry): [number, number, number, number] {
  let a = Infinity, b = Infinity, c = -Infinity, d = -Infinity
  for (const rings of polygons(g)) for (const [x, y] of rings[0] ?? []) {
    if (x < a) a = x
    if (y < b) b = y
    if (x > c) c = x
    if (y > d) d = y
  }
  return [a, b, c, d]
}

/** An index over the regions: a bbox prefilter is plenty for one township's few hundred cells. */
export class Locator {
  private readonly byCode = new Map<string, Region>()
  private readonly cells: { region: Region; bbox: [number, number, number, number] }[] = []

  constructor(regions: Region[]) {
    for (const r of regions) this.byCode.set(r.code, r)
    // The finest level present decides; townships/villages are found through parent codes.
    const finest = regions.some((r) => r.level === 'grid') ? 'grid' : regions.some((r) => r.level === 'village') ? 'village' : 'township'
    for (const r of regions) if (r.level === finest) this.cells.push({ region: r, bbox: bboxOf(r.geometry) })
    // A fixed rule for shared edges (as on the server): the smallest code wins.
    this.cells.sort((x, y) => (x.region.code < y.region.code ? -1 : 1))
  }

  get size(): number {
    return this.cells.length
  }

  regions(level?: Region['level']): Region[] {
    return [...this.byCode.values()].filter((r) => !level || r.level === level)
  }

  locate(lon: number, lat: number): Place {
    if (!this.cells.length) return { township: null, village: null, grid: null, status: 'unknown', distanceM: null }
    const pad = 0.006 // ~600 m: candidates for `nearest`
    let nearest: { region: Region; d: number } | null = null
    for (const { region, bbox } of this.cells) {
      if (lon < bbox[0] - pad || lon > bbox[2] + pad || lat < bbox[1] - pad || lat > bbox[3] + pad) continue
      const d = distanceToEdgeM(lon, lat, region.geometry)
      if (lon >= bbox[0] && lon <= bbox[2] && lat >= bbox[1] && lat <= bbox[3] && pointInPolygon(lon, lat, region.geometry)) {
        return this.place(region, d <= BOUNDARY_M ? 'boundary' : 'inside', d)
      }
      if (!nearest || d < nearest.d) nearest = { region, d }
    }
    if (nearest && nearest.d <= NEAREST_M) return this.place(nearest.region, 'nearest', nearest.d)
    return { township: null, village: null, grid: null, status: 'outside', distanceM: nearest?.d ?? null }
  }

  private place(cell: Region, status: LocateStatus, d: number): Place {
    const chain: Region[] = [cell]
    let parent = cell.parentCode
    while (parent) {
      const p = this.byCode.get(parent)
      if (!p) break
      chain.push(p)
      parent = p.parentCode
    }
    const at = (level: Region['level']) => {
      const r = chain.find((c) => c.level === level)
      if (r) return { code: r.code, name: r.name }
      return null
    }
    let village = at('village')
    let township = at('township')
    // Codes carry the hierarchy (village = 12 digits, grid = village + 3): fill in from them.
    if (!village && cell.level === 'grid') {
      const v = this.byCode.get(cell.code.slice(0, 12))
      if (v) village = { code: v.code, name: v.name }
    }
    if (!township) {
      const t = this.byCode.get(cell.code.slice(0, 9) + '000')
      if (t) township = { code: t.code, name: t.name }
    }
    return { township, village, grid: at('grid'), status, distanceM: Math.round(d) }
  }
}

/** Great-circle distance in metres. */
export function haversineM(a: Position, b: Position): number {
  const rad = Math.PI / 180
  const dLat = (b[1] - a[1]) * rad
  const dLon = (b[0] - a[0]) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_R * Math.asin(Math.sqrt(h))
}
