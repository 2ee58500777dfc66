/**
 * The base map under the boundaries, shared by the supervisors' map and the phone's map picker:
 * Tianditu vector + annotation (with a 地图/影像 toggle to imagery + annotation), OpenStreetMap, or
 * nothing (the polygons are the map). The settings come from GET /api/map/config and are remembered,
 * so an offline phone still shows the tiles its service worker kept.
 */
import L from 'leaflet'
import { api } from '../core/session'
import { OSM_URL, tiandituUrl, type Tiles } from './tiles'

export interface BaseMapConfig {
  tiles: Tiles
  tianditu_key: string | null
}

export interface CountyBox {
  code: string
  name: string
  /** min_lon, min_lat, max_lon, max_lat (WGS-84); null before `fengqiao init` stored an outline. */
  bbox: [number, number, number, number] | null
}

const CONFIG_KEY = 'fq-basemap'
const MODE_KEY = 'fq-basemap-mode'
const COUNTY_KEY = 'fq-county'

function remembered<T>(key: string): T | null {
  try {
    const raw = localStorage.getItem(key)
    return raw ? (JSON.parse(raw) as T) : null
  } catch {
    return null
  }
}

/** The base map settings: from the server, else as last seen, else none. */
export async function loadBaseMapConfig(fresh?: BaseMapConfig): Promise<BaseMapConfig> {
  try {
    const cfg = fresh ?? (await api.get<BaseMapConfig>('/map/config'))
    const keep: BaseMapConfig = { tiles: cfg.tiles, tianditu_key: cfg.tianditu_key }
    localStorage.setItem(CONFIG_KEY, JSON.stringify(keep))
    return keep
  } catch {
    return remembered<BaseMapConfig>(CONFIG_KEY) ?? { tiles: 'none', tianditu_key: null }
  }
}

/** The county's name and box (public), for a map's first frame; remembered for offline starts. */
export async function loadCounty(): Promise<CountyBox | null> {
  try {
    const county = await api.get<CountyBox>('/county')
    localStorage.setItem(COUNTY_KEY, JSON.stringify(county))
    return county
  } catch {
    return remembered<CountyBox>(COUNTY_KEY)
  }
}

export function countyBounds(county: CountyBox | null): L.LatLngBounds | null {
  const b = county?.bbox
  return b ? L.latLngBounds([b[1], b[0]], [b[3], b[2]]) : null
}

type Mode = 'vector' | 'imagery'

/** Adds the base layers (under everything else) and, for Tianditu, the 地图/影像 toggle. */
export function addBaseMap(m: L.Map, cfg: BaseMapConfig): void {
  if (cfg.tiles === 'osm') {
    L.tileLayer(OSM_URL, { maxZoom: 19, attribution: '© OpenStreetMap contributors', crossOrigin: 'anonymous' }).addTo(m)
    return
  }
  if (cfg.tiles !== 'tianditu' || !cfg.tianditu_key) return // 'none': the polygons are the map
  const key = cfg.tianditu_key
  // crossOrigin: CORS responses can be cached at their real size (opaque ones count as megabytes each).
  const opts: L.TileLayerOptions = { subdomains: '01234567', maxZoom: 18, attribution: '天地图', crossOrigin: 'anonymous' }
  const layers: Record<Mode, L.LayerGroup> = {
    vector: L.layerGroup([L.tileLayer(tiandituUrl('vec', key), opts), L.tileLayer(tiandituUrl('cva', key), opts)]),
    imagery: L.layerGroup([L.tileLayer(tiandituUrl('img', key), opts), L.tileLayer(tiandituUrl('cia', key), opts)]),
  }
  let mode: Mode = localStorage.getItem(MODE_KEY) === 'imagery' ? 'imagery' : 'vector'
  layers[mode].addTo(m)
  const Toggle = L.Control.extend({
    onAdd() {
      const button = L.DomUtil.create('button', 'fq-basemap-toggle') as HTMLButtonElement
      button.type = 'button'
      button.dataset.testid = 'basemap-toggle'
      const label = () => (button.textContent = mode === 'vector' ? '影像' : '地图')
      label()
      button.title = '切换地图与卫星影像'
      L.DomEvent.disableClickPropagation(button)
      L.DomEvent.on(button, 'click', () => {
        layers[mode].remove()
        mode = mode === 'vector' ? 'imagery' : 'vector'
        layers[mode].addTo(m)
        localStorage.setItem(MODE_KEY, mode)
        label()
      })
      return button
    },
  })
  new Toggle({ position: 'topright' }).addTo(m)
}
