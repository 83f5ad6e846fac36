/** Where R4 keeps its inputs on the firstbox: the pool's node list and the scale settings (seed 003 §2.2). */
export const listFilePath = (zoneId: string, pool: string) => `/pitrix/conf/operator/${zoneId}-${pool}.list`;
export const scaleSettingsPath = (zoneId: string) => `/pitrix/config/scale_settings.${zoneId}.yaml`;
