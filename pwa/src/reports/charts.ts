/**
 * ECharts, imported piece by piece (core + the two charts and three components used), so only this
 * route's chunk carries it and it stays a fraction of the full build.
 */
import * as echarts from 'echarts/core'
import { BarChart, LineChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'
import type { Dashboard } from './api'

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer])

export type Chart = echarts.ECharts

const FONT = { fontSize: 14, color: '#222' }

export function trendChart(el: HTMLElement, trend: Dashboard['trend']): Chart {
  const chart = echarts.init(el, undefined, { renderer: 'canvas' })
  chart.setOption({
    animation: false,
    tooltip: { trigger: 'axis', textStyle: { fontSize: 15 } },
    legend: { data: ['新增', '办结'], textStyle: { fontSize: 15 }, top: 0 },
    grid: { left: 44, right: 16, top: 36, bottom: 36 },
    xAxis: {
      type: 'category',
      data: trend.map((t) => t.week_start.slice(5).replace('-', '/')),
      axisLabel: FONT,
    },
    yAxis: { type: 'value', minInterval: 1, axisLabel: FONT },
    series: [
      { name: '新增', type: 'line', data: trend.map((t) => t.new), lineStyle: { width: 3 }, symbolSize: 8, color: '#1565c0' },
      { name: '办结', type: 'line', data: trend.map((t) => t.closed), lineStyle: { width: 3 }, symbolSize: 8, color: '#2e7d32' },
    ],
  })
  return chart
}

export function categoryChart(el: HTMLElement, cats: Dashboard['categories']): Chart {
  const chart = echarts.init(el, undefined, { renderer: 'canvas' })
  const sorted = [...cats].sort((a, b) => a.count - b.count)
  chart.setOption({
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, textStyle: { fontSize: 15 } },
    grid: { left: 96, right: 40, top: 8, bottom: 24 },
    xAxis: { type: 'value', minInterval: 1, axisLabel: FONT },
    yAxis: { type: 'category', data: sorted.map((c) => c.name), axisLabel: { ...FONT, fontSize: 15 } },
    series: [
      {
        type: 'bar',
        data: sorted.map((c) => c.count),
        color: '#b71c1c',
        barMaxWidth: 22,
        label: { show: true, position: 'right', fontSize: 14 },
      },
    ],
  })
  return chart
}
