import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router'
import { registerServiceWorker } from './core/pwa'
import './styles.css'

createApp(App).use(router).mount('#app')

if (import.meta.env.PROD) registerServiceWorker()
