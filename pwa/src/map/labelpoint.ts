/** Where a name goes inside an area, and the short form of the name (no Leaflet: unit-tested). */

type Ring = number[][]
type PolygonCoords = Ring[]
export interface LabelGeometry {
  type: string
  coordinates: unknown
}

function polygons(g: LabelGeometry): PolygonCoords[] {
  if (g.type === 'Polygon') return [g.coordinates as PolygonCoords]
  if (g.type === 'MultiPolygon') return g.coordinates as PolygonCoords[]
  return []
}

function ringArea(r: Ring): number {
  let a = 0
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) a += (r[j][0] - r[i][0]) * (r[j][1] + r[i][1])
  return Math.abs(a / 2)
}

/** Where the horizontal line at `lat` is inside the polygon: sorted crossings, in pairs. */
function crossings(poly: PolygonCoords, lat: number): number[] {
  const xs: number[] = []
  for (const ring of poly) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [x1, y1] = ring[j]
      const [x2, y2] = ring[i]
      if (y1 > lat !== y2 > lat) xs.push(x1 + ((lat - y1) / (y2 - y1)) * (x2 - x1))
    }
  }
  return xs.sort((a, b) => a - b)
}

/**
 * A point well inside the largest part of a (Multi)Polygon, as [lon, lat]: the middle of the widest
 * inside stretch among a few horizontal lines. The bounding box's centre can lie outside a village
 * shaped like a crescent; this cannot. Cheap enough for every village of a township on a phone.
 */
export function labelPoint(g: LabelGeometry): [number, number] | null {
  const parts = polygons(g).filter((p) => p.length && p[0].length >= 4)
  if (!parts.length) return null
  const poly = parts.reduce((a, b) => (ringArea(b[0]) > ringArea(a[0]) ? b : a))
  let minY = Infinity
  let maxY = -Infinity
  for (const [, y] of poly[0]) {
    minY = Math.min(minY, y)
    maxY = Math.max(maxY, y)
  }
  let best: [number, number] | null = null
  let bestWidth = -1
  const lines = 9
  for (let k = 1; k <= lines; k++) {
    // The middle line first, so a convex cell gets its centre.
    const t = 0.5 + (k % 2 ? 1 : -1) * Math.floor(k / 2) * (1 / (lines + 1))
    const lat = minY + t * (maxY - minY)
    const xs = crossings(poly, lat)
    for (let i = 0; i + 1 < xs.length; i += 2) {
      const w = xs[i + 1] - xs[i]
      if (w > bestWidth * 1.2) {
        bestWidth = w
        best = [(xs[i] + xs[i + 1]) / 2, lat]
      }
    }
  }
  return best
}

/** 关庙社区居民委员会 → 关庙社区: the committee suffix adds nothing on a map. */
export function shortName(name: string): string {
  return name.replace(/(村民委员会|居民委员会|村委会|居委会)$/, '') || name
}

