/**
 * The county this deployment serves (GET /api/county, public): its name for the sign-in and home
 * screens' subtitle. Cached in localStorage so the subtitle is right offline and on the first frame.
 */
import { computed, ref } from 'vue'
import type { ApiClient } from '../core/api'

export interface County {
  code: string
  name: string
  /** min_lon, min_lat, max_lon, max_lat (WGS-84), or null before an outline is loaded. */
  bbox: [number, number, number, number] | null
}

const KEY = 'fengqiao.county'

function cached(): County | null {
  try {
    const raw = typeof localStorage === 'undefined' ? null : localStorage.getItem(KEY)
    return raw ? (JSON.parse(raw) as County) : null
  } catch {
    return null
  }
}

export const county = ref<County | null>(cached())

/** "昌宁县矛盾纠纷网格化调解", or without the county's name until it is known. */
export const countySubtitle = computed(() => `${county.value?.name ?? ''}矛盾纠纷网格化调解`)

let loading: Promise<void> | null = null

/** Asks the server once per app start; offline keeps the cached name. */
export function loadCounty(client: Pick<ApiClient, 'get'>): Promise<void> {
  loading ??= (async () => {
    try {
      const c = await client.get<County>('/county', { auth: false })
      if (c && typeof c.name === 'string') {
        county.value = c
        try {
          localStorage.setItem(KEY, JSON.stringify(c))
        } catch {
          /* private mode: shown this time, asked again next start */
        }
      }
    } catch {
      loading = null // try again next time a screen asks
    }
  })()
  return loading
}
