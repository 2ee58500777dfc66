/** The photo viewer's zoom steps: from 100% (the whole photo) to MAX_ZOOM, by a factor per step. */
export const MAX_ZOOM = 6
const STEP = 1.5

/** The next zoom level from `scale` in `direction`; snaps to 1 and MAX_ZOOM rather than overshooting. */
export function zoomStep(scale: number, direction: 1 | -1): number {
  const next = direction > 0 ? scale * STEP : scale / STEP
  if (next <= 1.01) return 1
  return Math.min(MAX_ZOOM, Math.round(next * 100) / 100)
}
