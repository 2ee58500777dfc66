/**
 * Case markers, clustered.
 *
 * Why supercluster and not leaflet.markercluster: markercluster makes one L.Marker (a DOM element and
 * its event wiring) per case and clusters them in the browser's main thread as they are added; with
 * 50,000 cases that is seconds of work and hundreds of MB before the first frame, and again after every
 * filter change. supercluster indexes 50,000 plain points in about 100 ms (a KD-tree per zoom level)
 * and answers "clusters in this box at this zoom" in a millisecond, so we only ever draw what the
 * screen shows: a few hundred cluster bubbles (DOM divIcons, for their counts) and, when zoomed in,
 * single cases: as small DOM dots while there are few (they sit above the boundary labels and are
 * easy to tap), as circle markers on the map's one shared canvas renderer when there are many.
 */
import L from 'leaflet'
import Supercluster, { type ClusterProperties } from 'supercluster'
import { countdownText, type MapCase } from './api'

export const STATE_COLORS: Record<string, string> = {
  reported: '#1565c0',
  accepted: '#00838f',
  mediating: '#e65100',
  reopened: '#ad1457',
  resolved: '#2e7d32',
  failed: '#6a1b9a',
  referred: '#5d4037',
  closed: '#546e7a',
  archived: '#90a4ae',
  rejected: '#37474f',
  merged: '#bdbdbd',
}

export function stateColor(state: string): string {
  return STATE_COLORS[state] ?? '#757575'
}

/** Above this many single cases on screen, draw them on the canvas instead of as DOM dots. */
const DOM_SINGLES = 400
/** The risk layer: a red or amber ring (conflict and overdue rings come first). */
const RISK_RING: Record<string, string> = { red: '#ff1744', yellow: '#f9a825' }
const RISK_TITLE: Record<string, string> = { red: '（红色风险）', yellow: '（黄色风险）' }

/** The countdown beside a dot when it is near or past (yellow: 7 days or less, red: overdue). */
function countdownBadge(c: MapCase): string {
  if (c.deadline_colour !== 'yellow' && c.deadline_colour !== 'red') return ''
  return `<span class="fq-days fq-days--${c.deadline_colour}" data-deadline="${c.deadline_colour}">${countdownText(c.deadline_colour, c.days_left)}</span>`
}

function countdownTitle(c: MapCase): string {
  const text = countdownText(c.deadline_colour, c.days_left)
  return text ? `（${text}）` : ''
}

interface PointProps {
  i: number
}
interface ClusterProps {
  overdue: number
}

export class CaseClusterLayer {
  private index: Supercluster<PointProps, ClusterProps> | null = null
  private cases: MapCase[] = []
  private readonly group = L.layerGroup()
  private readonly renderer: L.Renderer

  constructor(
    private readonly map: L.Map,
    private readonly onCase: (c: MapCase) => void,
    renderer?: L.Renderer,
  ) {
    this.renderer = renderer ?? L.canvas({ padding: 0.3 })
    this.group.addTo(map)
  }

  /** Rebuilds the index (about 100 ms for 50,000) and draws the current view. */
  setCases(cases: MapCase[]): void {
    this.cases = cases
    const index = new Supercluster<PointProps, ClusterProps>({
      radius: 110, // in supercluster's 512-unit tile extent: about 55 screen pixels on Leaflet's 256-px tiles
      // Zoom 7–15 (the map's range starts at 8): a ~250 m radius at 15; single cases beyond. Fewer
      // levels than the default 0–16 halve the index time for 50,000 cases (~95 ms instead of ~200).
      minZoom: 7,
      maxZoom: 15,
      minPoints: 3,
      map: (p) => ({ overdue: cases[p.i].overdue ? 1 : 0 }),
      reduce: (acc, p) => {
        acc.overdue += p.overdue
      },
    })
    index.load(
      cases.map((c, i) => ({
        type: 'Feature' as const,
        properties: { i },
        geometry: { type: 'Point' as const, coordinates: [c.lon, c.lat] },
      })),
    )
    this.index = index
    this.render()
  }

  /** Draws the clusters and single cases of the visible area (call on moveend). */
  render(): void {
    this.group.clearLayers()
    if (!this.index) return
    const b = this.map.getBounds().pad(0.2)
    const zoom = Math.round(this.map.getZoom())
    const bbox: [number, number, number, number] = [
      Math.max(-180, b.getWest()),
      Math.max(-85, b.getSouth()),
      Math.min(180, b.getEast()),
      Math.min(85, b.getNorth()),
    ]
    const singles: MapCase[] = []
    for (const f of this.index.getClusters(bbox, zoom)) {
      const [lon, lat] = f.geometry.coordinates
      const props = f.properties as Partial<ClusterProperties & ClusterProps & PointProps>
      if (props.cluster) {
        const n = props.point_count ?? 0
        const size = n < 10 ? 34 : n < 100 ? 40 : n < 1000 ? 48 : 56
        const late = (props.overdue ?? 0) > 0
        const marker = L.marker([lat, lon], {
          icon: L.divIcon({
            className: '',
            html: `<div class="fq-cluster${late ? ' fq-cluster--late' : ''}" style="width:${size}px;height:${size}px">${props.point_count_abbreviated}</div>`,
            iconSize: [size, size],
          }),
          keyboard: false,
          title: late ? `${n} 件，其中逾期 ${props.overdue} 件` : `${n} 件`,
        })
        const id = props.cluster_id!
        marker.on('click', () => {
          const z = Math.min(this.index!.getClusterExpansionZoom(id), 18)
          this.map.setView([lat, lon], z)
        })
        this.group.addLayer(marker)
      } else {
        singles.push(this.cases[props.i!])
      }
    }
    const dom = singles.length <= DOM_SINGLES
    for (const c of singles) {
      const ring = c.conflict ? '#6a1b9a' : c.overdue ? '#b71c1c' : (RISK_RING[c.risk] ?? '#ffffff')
      const layer = dom
        ? L.marker([c.lat, c.lon], {
            icon: L.divIcon({
              className: '',
              html: `<div class="fq-dot" style="background:${stateColor(c.state)};border-color:${ring}"></div>${countdownBadge(c)}`,
              iconSize: [22, 22],
            }),
            title: `${c.number} ${c.title}${RISK_TITLE[c.risk] ?? ''}${countdownTitle(c)}`,
            keyboard: false,
          })
        : L.circleMarker([c.lat, c.lon], {
            renderer: this.renderer,
            radius: 8,
            weight: c.overdue || c.conflict || c.risk !== 'green' ? 4 : 2,
            color: ring,
            fillColor: stateColor(c.state),
            fillOpacity: 0.95,
          })
      layer.on('click', (e) => {
        L.DomEvent.stopPropagation(e)
        this.onCase(c)
      })
      this.group.addLayer(layer)
    }
  }

  remove(): void {
    this.group.remove()
  }
}
