/**
 * Boundaries and the choropleth: the township outline always, and the cells of the level that follows
 * the zoom (township → village → grid) filled by the chosen metric, with their names as labels. With
 * no base tiles these polygons are the map, so it works with no internet.
 */
import L from 'leaflet'
import type { CellLevel, GridCollection, GridFeature } from './api'
import { CLASS_COLORS, classBreaks, colorFor, ZERO_COLOR } from './scale'
import { labelPoint, shortName } from './labelpoint'

export { levelForZoom } from './scale'
export { shortName } from './labelpoint'

export class Choropleth {
  private readonly outline: L.GeoJSON
  private cells: L.GeoJSON | null = null
  private readonly labels = L.layerGroup()
  private values = new Map<string, number>()
  private breaks: number[] = [1, 2, 3, 4, 5]
  private features: GridFeature[] = []
  level: CellLevel | null = null
  townshipNames: string[] = []
  private selected: string | null = null

  constructor(
    private readonly map: L.Map,
    private readonly renderer: L.Renderer,
    private readonly onCell: (f: GridFeature) => void,
  ) {
    this.outline = L.geoJSON(undefined, {
      renderer,
      interactive: false,
      style: { color: '#222', weight: 3, fill: false, opacity: 0.9 },
    } as L.GeoJSONOptions)
    this.labels.addTo(map)
  }

  setTownships(fc: GridCollection): void {
    this.outline.clearLayers()
    this.outline.addData(fc as never)
    this.outline.addTo(this.map)
    this.townshipNames = fc.features.map((f) => f.properties.name)
  }

  outlineBounds(): L.LatLngBounds | null {
    const b = this.outline.getBounds()
    return b.isValid() ? b : null
  }

  /** Shows the cells of a level (the features of that level in the caller's area). */
  setLevel(level: CellLevel, fc: GridCollection): void {
    this.cells?.remove()
    this.level = level
    this.features = fc.features
    this.cells = L.geoJSON(fc as never, {
      renderer: this.renderer,
      style: (f) => this.style(f as unknown as GridFeature),
      onEachFeature: (f, layer) => {
        layer.on('click', () => this.onCell(f as unknown as GridFeature))
      },
    } as L.GeoJSONOptions)
    this.cells.addTo(this.map)
    this.cells.bringToBack()
    this.outline.bringToFront()
    this.drawLabels()
  }

  setValues(values: Map<string, number>, max: number): void {
    this.values = values
    this.breaks = classBreaks(max)
    this.cells?.setStyle((f) => this.style(f as unknown as GridFeature))
  }

  get legend(): { color: string; label: string }[] {
    const out = [{ color: ZERO_COLOR, label: '0' }]
    let lo = 1
    for (let i = 0; i < this.breaks.length; i++) {
      const hi = this.breaks[i]
      if (hi < lo) continue
      out.push({ color: CLASS_COLORS[i], label: hi === lo ? `${hi}` : `${lo}–${hi}` })
      lo = hi + 1
    }
    return out
  }

  /** Outlines the chosen cell (null: none). */
  select(code: string | null): void {
    this.selected = code
    this.cells?.setStyle((f) => this.style(f as unknown as GridFeature))
  }

  valueOf(code: string): number {
    return this.values.get(code) ?? 0
  }

  /** Labels of the current level's cells in view (grids: only those on screen, there are many). */
  drawLabels(): void {
    this.labels.clearLayers()
    if (!this.cells) return
    const view = this.map.getBounds()
    const onlyInView = this.level === 'grid'
    this.cells.eachLayer((layer) => {
      const poly = layer as L.Polygon & { feature?: GridFeature }
      const bounds = poly.getBounds()
      // Inside the polygon (a crescent's box centre is not), else the box centre.
      const at = poly.feature ? labelPoint(poly.feature.geometry) : null
      const center = at ? L.latLng(at[1], at[0]) : bounds.getCenter()
      if (onlyInView && !view.contains(center)) return
      const name = shortName(poly.feature?.properties.name ?? '')
      // No label where it would not fit inside its cell (it would cover the neighbours').
      const width = this.map.latLngToContainerPoint(bounds.getNorthEast()).x - this.map.latLngToContainerPoint(bounds.getSouthWest()).x
      if (width < name.length * 11) return
      this.labels.addLayer(
        L.marker(center, {
          interactive: false,
          keyboard: false,
          icon: L.divIcon({ className: `fq-label fq-label--${this.level}`, html: `<span>${escapeHtml(name)}</span>`, iconSize: [0, 0] }),
        }),
      )
    })
  }

  get featureCount(): number {
    return this.features.length
  }

  private style(f: GridFeature): L.PathOptions {
    const v = this.values.get(f.properties.code) ?? 0
    if (f.properties.code === this.selected) {
      return { color: '#1a56c4', weight: 5, fillColor: colorFor(v, this.breaks), fillOpacity: 0.75 }
    }
    return {
      color: this.level === 'grid' ? '#777' : '#555',
      weight: this.level === 'township' ? 2 : 1,
      fillColor: colorFor(v, this.breaks),
      fillOpacity: 0.75,
    }
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}
