/** The GPS fix: watches until the fix is good (≤ 20 m) or 30 s pass, keeping the best one seen. */
import { onUnmounted, reactive } from 'vue'

export const POOR_ACCURACY_M = 100

export interface Fix {
  lon: number
  lat: number
  accuracy: number
  at: number
}

export function useGps() {
  const state = reactive({ fix: null as Fix | null, error: '', watching: false })
  let id: number | null = null
  let timer: ReturnType<typeof setTimeout> | null = null

  function stop() {
    if (id !== null) navigator.geolocation.clearWatch(id)
    if (timer) clearTimeout(timer)
    id = null
    state.watching = false
  }

  function start() {
    stop()
    state.error = ''
    if (!('geolocation' in navigator)) {
      state.error = '此手机不支持定位，请在地图上选择位置'
      return
    }
    state.watching = true
    id = navigator.geolocation.watchPosition(
      (p) => {
        const fix = { lon: p.coords.longitude, lat: p.coords.latitude, accuracy: Math.round(p.coords.accuracy), at: p.timestamp || Date.now() }
        if (!state.fix || fix.accuracy <= state.fix.accuracy || Date.now() - state.fix.at > 60_000) state.fix = fix
        if (fix.accuracy <= 20) stop()
      },
      (e) => {
        state.error = e.code === e.PERMISSION_DENIED ? '未允许定位：请在手机设置中允许本应用使用位置，或在地图上选择' : '暂时无法定位，请到开阔处重试，或在地图上选择'
        stop()
      },
      { enableHighAccuracy: true, maximumAge: 10_000, timeout: 30_000 },
    )
    timer = setTimeout(stop, 30_000)
  }

  onUnmounted(stop)
  return { state, start, stop }
}
