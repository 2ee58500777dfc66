import { describe, expect, it } from 'vitest'
import { labelPoint, shortName } from './labelpoint'

function inside(p: [number, number], ring: number[][]): boolean {
  let c = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]
    const [xj, yj] = ring[j]
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) c = !c
  }
  return c
}

describe('labels', () => {
  it('puts a square cell\'s name in its middle', () => {
    const ring = [[99.6, 24.8], [99.62, 24.8], [99.62, 24.82], [99.6, 24.82], [99.6, 24.8]]
    const p = labelPoint({ type: 'Polygon', coordinates: [ring] })!
    expect(p[0]).toBeCloseTo(99.61, 6)
    expect(p[1]).toBeCloseTo(24.81, 6)
  })

  it('keeps a U-shaped village\'s name inside it, where the box centre is not', () => {
    // A U: the box centre (99.615, 24.81) is in the notch.
    const ring = [[99.6, 24.8], [99.63, 24.8], [99.63, 24.83], [99.62, 24.83], [99.62, 24.805], [99.61, 24.805], [99.61, 24.83], [99.6, 24.83], [99.6, 24.8]]
    expect(inside([99.615, 24.815], ring)).toBe(false)
    const p = labelPoint({ type: 'MultiPolygon', coordinates: [[ring], [[[99.7, 24.8], [99.701, 24.8], [99.701, 24.801], [99.7, 24.8]]]] })!
    expect(inside(p, ring)).toBe(true)
  })

  it('drops the committee suffix', () => {
    expect(shortName('关庙社区居民委员会')).toBe('关庙社区')
    expect(shortName('新华村民委员会')).toBe('新华')
  })
})
