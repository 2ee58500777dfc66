/**
 * Names on the map: village and grid names as labels at the zooms where they fit, so a mediator can
 * find the place by name on a phone (the picker) and a supervisor on the map.
 */
import L from 'leaflet'
import './labels.css'
import { labelPoint, shortName, type LabelGeometry } from './labelpoint'

export { labelPoint, shortName } from './labelpoint'

export interface NamedArea {
  name: string
  geometry: LabelGeometry
}

/** An area known only by its parts (a village on the phone, which keeps its grid cells' polygons). */
export interface NamedGroup {
  name: string
  parts: LabelGeometry[]
}

interface LabelLevel {
  className: string
  minZoom: number
  maxZoom: number
  items: { name: string; at: L.LatLng; bounds: L.LatLngBounds }[]
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/**
 * Labels of several levels, each in its own zoom range (on the picker villages from 11, grids from 14),
 * drawn only in view and only where the name fits inside its area on screen.
 */
export class NameLabels {
  private readonly group = L.layerGroup()
  private readonly levels: LabelLevel[] = []

  constructor(private readonly map: L.Map) {
    this.group.addTo(map)
    map.on('moveend zoomend', () => this.draw())
  }

  /** Labels for `areas` from minZoom up to (not including) maxZoom. */
  add(className: string, minZoom: number, maxZoom: number, areas: NamedArea[]): void {
    const items = []
    for (const a of areas) {
      const p = labelPoint(a.geometry)
      if (!p) continue
      const bounds = L.geoJSON(a.geometry as never).getBounds()
      items.push({ name: shortName(a.name), at: L.latLng(p[1], p[0]), bounds })
    }
    this.levels.push({ className, minZoom, maxZoom, items })
    this.draw()
  }

  /**
   * Labels of areas made of parts: at the label point of the part nearest the parts' middle (so it
   * lies inside the area), fitted against the parts' combined box.
   */
  addGroups(className: string, minZoom: number, maxZoom: number, groups: NamedGroup[]): void {
    const items = []
    for (const g of groups) {
      const points = g.parts.map(labelPoint).filter((p): p is [number, number] => p !== null)
      if (!points.length || !g.name) continue
      const mx = points.reduce((s, p) => s + p[0], 0) / points.length
      const my = points.reduce((s, p) => s + p[1], 0) / points.length
      const p = points.reduce((a, b) => (Math.hypot(b[0] - mx, b[1] - my) < Math.hypot(a[0] - mx, a[1] - my) ? b : a))
      const bounds = L.geoJSON({ type: 'GeometryCollection', geometries: g.parts } as never).getBounds()
      items.push({ name: shortName(g.name), at: L.latLng(p[1], p[0]), bounds })
    }
    this.levels.push({ className, minZoom, maxZoom, items })
    this.draw()
  }

  /** Names currently shown (for tests). */
  shown(): string[] {
    const out: string[] = []
    this.group.eachLayer((l) => out.push((l as L.Marker & { fqName?: string }).fqName ?? ''))
    return out
  }

  draw(): void {
    this.group.clearLayers()
    const zoom = this.map.getZoom()
    const view = this.map.getBounds()
    const placed: { x0: number; y0: number; x1: number; y1: number }[] = []
    for (const level of this.levels) {
      if (zoom < level.minZoom || zoom >= level.maxZoom) continue
      for (const it of level.items) {
        if (!view.contains(it.at)) continue
        const ne = this.map.latLngToContainerPoint(it.bounds.getNorthEast())
        const sw = this.map.latLngToContainerPoint(it.bounds.getSouthWest())
        if (ne.x - sw.x < it.name.length * 12) continue // would spill over the neighbours
        // Not over a name already placed (the first level added wins, then the order given).
        const c = this.map.latLngToContainerPoint(it.at)
        const half = (it.name.length * 16) / 2 + 4
        const box = { x0: c.x - half, y0: c.y - 12, x1: c.x + half, y1: c.y + 12 }
        if (placed.some((p) => box.x0 < p.x1 && p.x0 < box.x1 && box.y0 < p.y1 && p.y0 < box.y1)) continue
        placed.push(box)
        const marker = L.marker(it.at, {
          interactive: false,
          keyboard: false,
          icon: L.divIcon({ className: `fq-name ${level.className}`, html: `<span>${escapeHtml(it.name)}</span>`, iconSize: [0, 0] }),
        }) as L.Marker & { fqName?: string }
        marker.fqName = it.name
        this.group.addLayer(marker)
      }
    }
  }
}
