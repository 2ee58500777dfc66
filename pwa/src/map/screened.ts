/** The "screened this month" layer's data (GET /api/map/screenings), apart from Leaflet so it is testable. */
import { api } from '../core/session'
import type { GridCollection, GridFeature } from './api'

export interface VillageScreening {
  village_code: string
  village_name: string
  status: 'screened' | 'not_screened'
  screenings: number
  leads: number
}

export const SCREENED_COLOR = '#2e7d32'
export const NOT_SCREENED_COLOR = '#ef6c00'

export function getScreenings(month?: string): Promise<{ month: string; villages: VillageScreening[] }> {
  return api.get(`/map/screenings${month ? `?month=${month}` : ''}`)
}

/** The served villages' features with their status (pure, for the layer and its tests). */
export function servedFeatures(fc: GridCollection, villages: VillageScreening[]): { feature: GridFeature; v: VillageScreening }[] {
  const byCode = new Map(villages.map((v) => [v.village_code, v]))
  return fc.features.flatMap((feature) => {
    const v = byCode.get(feature.properties.code)
    return v ? [{ feature, v }] : []
  })
}
