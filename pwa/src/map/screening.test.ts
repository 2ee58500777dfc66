import 'fake-indexeddb/auto'
import { describe, expect, it } from 'vitest'
import { servedFeatures, type VillageScreening } from './screened'
import type { GridCollection } from './api'

const fc = {
  type: 'FeatureCollection',
  features: ['A', 'B', 'C'].map((code) => ({ type: 'Feature', properties: { code, name: code, level: 'village' }, geometry: null })),
} as unknown as GridCollection

describe('the screened-this-month layer', () => {
  it('draws only the served villages, each with its status', () => {
    const villages: VillageScreening[] = [
      { village_code: 'A', village_name: 'A', status: 'screened', screenings: 1, leads: 2 },
      { village_code: 'C', village_name: 'C', status: 'not_screened', screenings: 0, leads: 0 },
    ]
    expect(servedFeatures(fc, villages).map((x) => [x.feature.properties.code, x.v.status])).toEqual([
      ['A', 'screened'],
      ['C', 'not_screened'],
    ])
  })
})
