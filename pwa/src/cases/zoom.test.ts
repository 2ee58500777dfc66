import { describe, expect, it } from 'vitest'
import { MAX_ZOOM, zoomStep } from './zoom'

describe('photo zoom steps', () => {
  it('zooms in by half again, up to the maximum and no further', () => {
    let scale = 1
    const seen = []
    for (let i = 0; i < 8; i++) seen.push((scale = zoomStep(scale, 1)))
    expect(seen.slice(0, 3)).toEqual([1.5, 2.25, 3.38])
    expect(seen.at(-1)).toBe(MAX_ZOOM)
    expect(zoomStep(MAX_ZOOM, 1)).toBe(MAX_ZOOM)
  })

  it('zooms out back to the whole photo, never below it', () => {
    expect(zoomStep(2.25, -1)).toBe(1.5)
    expect(zoomStep(1.5, -1)).toBe(1)
    expect(zoomStep(1.2, -1)).toBe(1)
    expect(zoomStep(1, -1)).toBe(1)
  })
})
