import { createContext, useContext } from 'react';
import type { ApiClient } from './api/client';
import type { Session } from './lib/jwt';

export interface AppContextValue {
  session: Session;
  api: ApiClient;
  logout: () => void;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside the logged-in app');
  return value;
}
