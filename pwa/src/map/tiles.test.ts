import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { isTileUrl, tiandituUrl, TILE_CACHE_NAME, TILE_EXPIRATION } from './tiles'

/** A Cache Storage with just what workbox-expiration uses (Node has none). */
function fakeCaches(): Map<string, Set<string>> {
  const stores = new Map<string, Set<string>>()
  const storage = {
    async open(name: string) {
      if (!stores.has(name)) stores.set(name, new Set())
      const urls = stores.get(name)!
      return {
        async delete(request: string | Request) {
          return urls.delete(typeof request === 'string' ? request : request.url)
        },
      }
    },
  }
  vi.stubGlobal('caches', storage)
  return stores
}

afterEach(() => vi.unstubAllGlobals())

describe('tile cache', () => {
  it('caches the tile servers only', () => {
    const tile = tiandituUrl('vec', 'k').replace('{s}', '3').replace('{z}', '14').replace('{y}', '7').replace('{x}', '9')
    expect(isTileUrl(new URL(tile))).toBe(true)
    expect(isTileUrl(new URL('https://tile.openstreetmap.org/14/9/7.png'))).toBe(true)
    expect(isTileUrl(new URL('http://t3.tianditu.gov.cn/vec_w/wmts'))).toBe(false)
    expect(isTileUrl(new URL('https://fengqiao.example/api/grids?level=grid'))).toBe(false)
    expect(isTileUrl(new URL('https://evil.example/t3.tianditu.gov.cn/x.png'))).toBe(false)
  })

  it('keeps at most 2,000 tiles and drops the least recently used', async () => {
    expect(TILE_EXPIRATION.maxEntries).toBe(2000)
    const stores = fakeCaches()
    const kept = new Set<string>()
    stores.set(TILE_CACHE_NAME, kept)
    // Workbox expects a worker's global `self`; the module is loaded once that exists.
    Object.assign(globalThis, { self: globalThis, location: new URL('https://fengqiao.example/') })
    if (!('navigator' in globalThis)) vi.stubGlobal('navigator', { userAgent: 'vitest' })
    const { CacheExpiration } = await import('workbox-expiration')
    const expiration = new CacheExpiration(TILE_CACHE_NAME, TILE_EXPIRATION)
    let now = Date.UTC(2026, 11, 3)
    vi.spyOn(Date, 'now').mockImplementation(() => (now += 1000))
    const url = (i: number) => `https://t0.tianditu.gov.cn/vec_w/wmts?TILEMATRIX=15&TILEROW=${i}&TILECOL=1&tk=k`
    for (let i = 0; i < 2010; i++) {
      kept.add(url(i))
      await expiration.updateTimestamp(url(i))
    }
    await expiration.updateTimestamp(url(3)) // seen again: now among the newest
    await expiration.expireEntries()
    expect(kept.size).toBe(2000)
    expect([0, 1, 2, 4, 5].map((i) => kept.has(url(i)))).toEqual([false, false, false, false, false])
    expect(kept.has(url(3)) && kept.has(url(2009))).toBe(true)
  }, 30_000)
})
