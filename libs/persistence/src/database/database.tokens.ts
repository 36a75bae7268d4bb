export const DATA_SOURCE = Symbol('DATA_SOURCE');
export const DATABASE_HANDLE = Symbol('DATABASE_HANDLE');
