import { Module, type DynamicModule } from '@nestjs/common';
import { AgentRegistryModule, AgentsModule } from '#agents';
import { ConfigModule, type AppConfig } from '#config';
import { DefinitionsModule } from '#definitions';
import { OrganizationsService, UsersService } from '#identity';
import { DatabaseModule } from '#persistence';
import { cliDatabaseConfig } from './cli-database.js';

/**
 * What CLI commands need: the database (never auto-migrated: migrations are explicit commands here), users,
 * definitions and the agent registry. UsersService and OrganizationsService are provided directly rather than through IdentityModule, which also sets up JWT
 * signing: the CLI issues no tokens, so it must not require (or generate) a JWT secret.
 */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot({ ...cliDatabaseConfig(config), autoMigrate: false }), DefinitionsModule, AgentsModule, AgentRegistryModule],
      providers: [UsersService, OrganizationsService],
    };
  }
}
