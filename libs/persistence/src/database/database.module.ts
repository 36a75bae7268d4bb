import { Global, Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '#config';
import { AgentsRepository } from '../repositories/agents.repository.js';
import { ApiKeysRepository } from '../repositories/api-keys.repository.js';
import { AuditLogRepository } from '../repositories/audit-log.repository.js';
import { DefinitionChanges } from '../repositories/definition-changes.js';
import { DefinitionsRepository } from '../repositories/definitions.repository.js';
import { ArtifactsRepository } from '../repositories/artifacts.repository.js';
import { KpiDemoRepository } from '../repositories/kpi-demo.repository.js';
import { OrganizationsRepository } from '../repositories/organizations.repository.js';
import { ReadOnlyQueryRepository } from '../repositories/read-only-query.repository.js';
import { RunsRepository } from '../repositories/runs.repository.js';
import { StepsRepository } from '../repositories/steps.repository.js';
import { UsersRepository } from '../repositories/users.repository.js';
import { openDatabase, type DatabaseHandle } from './data-source.js';
import { migrateDatabase } from './migrate.js';
import { DATA_SOURCE, DATABASE_HANDLE } from './database.tokens.js';

const REPOSITORIES = [
  DefinitionChanges,
  OrganizationsRepository,
  UsersRepository,
  ApiKeysRepository,
  AgentsRepository,
  DefinitionsRepository,
  RunsRepository,
  StepsRepository,
  AuditLogRepository,
  ReadOnlyQueryRepository,
  KpiDemoRepository,
  ArtifactsRepository,
];

/** Opens the database once per application and closes it (and the embedded server it owns) on shutdown. */
@Global()
@Module({})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DATABASE_HANDLE) private readonly handle: DatabaseHandle) {}

  static forRoot(
    config: Pick<AppConfig, 'databaseUrl' | 'dataDir' | 'pgPort' | 'autoMigrate'> &
      Partial<Pick<AppConfig, 'dbPoolSize' | 'dbConnectTimeoutMs' | 'dbStartupRetryMs'>>,
  ): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DATABASE_HANDLE,
          useFactory: async () => {
            const handle = await openDatabase(config);
            if (config.autoMigrate) await migrateDatabase(handle.dataSource);
            return handle;
          },
        },
        { provide: DATA_SOURCE, useFactory: (handle: DatabaseHandle) => handle.dataSource, inject: [DATABASE_HANDLE] },
        ...REPOSITORIES,
      ],
      exports: [DATA_SOURCE, DATABASE_HANDLE, ...REPOSITORIES],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.handle.close();
    new Logger('Database').log('database pool closed');
  }
}
