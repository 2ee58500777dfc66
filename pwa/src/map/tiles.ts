/**
 * Base map tiles: where they come from and how many the phone keeps. No Leaflet here: the service
 * worker (sw.ts) imports this too.
 *
 * Tianditu (天地图, the national base map) serves Web Mercator tiles in CGCS2000, which matches the
 * WGS-84 GPS points and grid polygons to well under a metre: no GCJ-02 shift. Its terms forbid bulk
 * downloading, so tiles are cached only as they are seen (a bounded runtime cache): a picker works
 * offline where it was used before, and nowhere else needs tiles to work (the polygons are the map).
 * The key comes from the server's settings (FENGQIAO_TIANDITU_KEY), never from the repository.
 */

export type Tiles = 'none' | 'tianditu' | 'osm'
/** Tianditu layers: vector base + its annotation (names), imagery + its annotation. */
export type TiandituLayer = 'vec' | 'cva' | 'img' | 'cia'

export const TILE_CACHE_NAME = 'fq-tiles'
/** The bound: about 2,000 tiles (20–40 MB) is a few townships at street zoom; the oldest go first. */
export const TILE_EXPIRATION = {
  maxEntries: 2000,
  maxAgeSeconds: 30 * 24 * 3600,
  purgeOnQuotaError: true,
} as const

const TILE_HOST = /^(t[0-7]\.tianditu\.gov\.cn|tile\.openstreetmap\.org)$/

/** A tile request the service worker caches (never /api, never the app's own files). */
export function isTileUrl(url: URL): boolean {
  return url.protocol === 'https:' && TILE_HOST.test(url.hostname)
}

export function tiandituUrl(layer: TiandituLayer, key: string): string {
  return (
    `https://t{s}.tianditu.gov.cn/${layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${layer}` +
    `&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=${encodeURIComponent(key)}`
  )
}

export const OSM_URL = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png'
