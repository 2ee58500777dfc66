import { describe, expect, it } from 'vitest'
import { distanceToEdgeM, Locator, pointInPolygon, type Region } from './geo'

// Two grid cells side by side (each ~1 km wide at this latitude), in one village of one township.
const sq = (x0: number, x1: number) => ({
  type: 'Polygon' as const,
  coordinates: [[[x0, 24.82], [x1, 24.82], [x1, 24.83], [x0, 24.83], [x0, 24.82]] as [number, number][]],
})
const REGIONS: Region[] = [
  { code: '530524101000', level: 'township', name: '田园镇', parentCode: null, geometry: { type: 'Polygon', coordinates: [] } },
  { code: '530524101001', level: 'village', name: '关庙社区', parentCode: '530524101000', geometry: { type: 'Polygon', coordinates: [] } },
  { code: '530524101001001', level: 'grid', name: '第1网格', parentCode: '530524101001', geometry: sq(99.6, 99.61) },
  { code: '530524101001002', level: 'grid', name: '第2网格', parentCode: '530524101001', geometry: sq(99.61, 99.62) },
]

describe('locating offline', () => {
  const loc = new Locator(REGIONS)

  it('finds the grid, village and township of a point well inside', () => {
    const p = loc.locate(99.605, 24.825)
    expect(p.status).toBe('inside')
    expect(p.grid?.name).toBe('第1网格')
    expect(p.village?.name).toBe('关庙社区')
    expect(p.township?.name).toBe('田园镇')
  })

  it('asks to confirm within 50 m of an edge, and gives a shared edge to the smaller code', () => {
    const near = loc.locate(99.6097, 24.825) // ~30 m west of the shared edge
    expect(near.status).toBe('boundary')
    expect(near.grid?.code).toBe('530524101001001')
    const on = loc.locate(99.61, 24.825)
    expect(on.status).toBe('boundary')
  })

  it('takes the nearest cell within 500 m outside, and nothing farther', () => {
    const out = loc.locate(99.6, 24.8315) // ~165 m north of cell 1
    expect(out.status).toBe('nearest')
    expect(out.grid?.code).toBe('530524101001001')
    expect(loc.locate(99.6, 24.9).status).toBe('outside')
  })

  it('measures distances in metres and honours holes', () => {
    expect(distanceToEdgeM(99.605, 24.82, sq(99.6, 99.61))).toBeLessThan(1)
    const d = distanceToEdgeM(99.605, 24.825, sq(99.6, 99.61))
    expect(d).toBeGreaterThan(500)
    expect(d).toBeLessThan(560)
    const holed = { type: 'Polygon' as const, coordinates: [sq(99.6, 99.61).coordinates[0], sq(99.604, 99.606).coordinates[0]] }
    expect(pointInPolygon(99.605, 24.825, holed)).toBe(false)
    expect(pointInPolygon(99.601, 24.825, holed)).toBe(true)
  })
})
