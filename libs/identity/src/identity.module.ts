import { Module, type DynamicModule } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import type { AppConfig } from '#config';
import { AuthService } from './auth.service.js';
import { resolveJwtSecret } from './jwt-secret.js';
import { OrganizationsService } from './organizations.service.js';
import { UsersService } from './users.service.js';

@Module({})
export class IdentityModule {
  static forRoot(config: AppConfig): DynamicModule {
    // Global: every edge that authenticates (the HTTP guard, the stream socket) needs AuthService.
    return {
      module: IdentityModule,
      global: true,
      imports: [JwtModule.register({ secret: resolveJwtSecret(config), signOptions: { algorithm: 'HS256' }, verifyOptions: { algorithms: ['HS256'] } })],
      providers: [AuthService, UsersService, OrganizationsService],
      exports: [AuthService, UsersService, OrganizationsService],
    };
  }
}
