/** The choropleth's classes and the level that follows the zoom (no Leaflet here: unit-tested). */
import type { CellLevel } from './api'

/** Five classes, light to dark (ColorBrewer OrRd), readable in daylight. */
export const CLASS_COLORS = ['#fef0d9', '#fdcc8a', '#fc8d59', '#e34a33', '#b30000']
export const ZERO_COLOR = '#ffffff'

export function levelForZoom(zoom: number): CellLevel {
  if (zoom < 11) return 'township'
  if (zoom < 13) return 'village'
  return 'grid'
}

/** Upper bounds of the five classes for values 1..max (integers, increasing, never empty). */
export function classBreaks(max: number): number[] {
  if (max <= 5) return [1, 2, 3, 4, 5].map((n) => Math.min(n, Math.max(max, 1)))
  return [0.2, 0.4, 0.6, 0.8, 1].map((f) => Math.ceil(max * f))
}

export function colorFor(value: number, breaks: number[]): string {
  if (!value) return ZERO_COLOR
  const i = breaks.findIndex((b) => value <= b)
  return CLASS_COLORS[i < 0 ? CLASS_COLORS.length - 1 : i]
}
