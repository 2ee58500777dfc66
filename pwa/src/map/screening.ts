/**
 * The "screened this month" layer (月排查): the villages the teams of the area serve, drawn on the
 * village boundaries — green where a report of the month arrived, dashed amber where none has.
 * Villages no team serves are not drawn (nobody is expected to screen them).
 */
import L from 'leaflet'
import type { GridCollection, GridFeature } from './api'
import { NOT_SCREENED_COLOR, SCREENED_COLOR, servedFeatures, type VillageScreening } from './screened'

export { getScreenings, NOT_SCREENED_COLOR, SCREENED_COLOR } from './screened'

export class ScreeningLayer {
  private layer: L.GeoJSON | null = null

  constructor(
    private readonly map: L.Map,
    private readonly renderer: L.Renderer,
  ) {}

  show(fc: GridCollection, villages: VillageScreening[]): void {
    this.hide()
    const status = new Map(villages.map((v) => [v.village_code, v]))
    const features = servedFeatures(fc, villages).map((x) => x.feature)
    this.layer = L.geoJSON({ type: 'FeatureCollection', features } as never, {
      renderer: this.renderer,
      interactive: true,
      style: (f) => {
        const v = status.get((f as unknown as GridFeature).properties.code)
        const done = v?.status === 'screened'
        return {
          color: done ? SCREENED_COLOR : NOT_SCREENED_COLOR,
          weight: done ? 2 : 3,
          dashArray: done ? undefined : '6 4',
          fillColor: done ? SCREENED_COLOR : NOT_SCREENED_COLOR,
          fillOpacity: done ? 0.45 : 0.15,
        }
      },
      onEachFeature: (f, layer) => {
        const v = status.get((f as unknown as GridFeature).properties.code)
        if (v) layer.bindTooltip(v.status === 'screened' ? `${v.village_name}：本月已排查，${v.leads} 条线索` : `${v.village_name}：本月未排查`)
      },
    } as L.GeoJSONOptions)
    this.layer.addTo(this.map)
  }

  hide(): void {
    this.layer?.remove()
    this.layer = null
  }
}
