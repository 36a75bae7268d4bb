import { Injectable, Optional } from '@nestjs/common';
import { DomainError, ROLES, type ProblemDetail, type Role } from '#core';
import { OrganizationsRepository, UsersRepository, type OrganizationEntity, type UserEntity } from '#persistence';
import { AuthService } from './auth.service.js';
import { hashPassword } from './password-hasher.js';
import type { Principal } from './principal.js';

export interface NewUserCommand {
  email: string;
  password: string;
  role: Role;
  displayName?: string;
}

export interface CreateUserCommand extends NewUserCommand {
  organizationSlug: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function userProblems(command: NewUserCommand): ProblemDetail[] {
  const problems: ProblemDetail[] = [];
  if (!EMAIL.test(command.email)) problems.push({ path: '$.email', message: 'must be an email address' });
  if (command.password.length < 8) problems.push({ path: '$.password', message: 'must be at least 8 characters' });
  if (!ROLES.includes(command.role)) problems.push({ path: '$.role', message: `must be one of ${ROLES.join(', ')}` });
  return problems;
}

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly organizations: OrganizationsRepository,
    // Absent in the CLI, which authenticates nobody: API instances see its changes within BATON_AUTH_CACHE_MS.
    @Optional() private readonly auth?: AuthService,
  ) {}

  /** Validates and creates a user; the organization is created when missing (the CLI). */
  async create(command: CreateUserCommand): Promise<UserEntity> {
    const problems = userProblems(command);
    if (!/^[a-z0-9][a-z0-9-]{0,99}$/.test(command.organizationSlug)) problems.push({ path: '$.organization', message: 'must be a slug' });
    if (problems.length > 0) throw DomainError.validation('Invalid user', problems);
    const organization = await this.organizations.ensure(command.organizationSlug, command.organizationSlug);
    return this.createIn(organization, command);
  }

  /** Validates and creates a user in an existing organization (the API). Emails are unique across organizations. */
  async createIn(organization: OrganizationEntity, command: NewUserCommand): Promise<UserEntity> {
    const problems = userProblems(command);
    if (problems.length > 0) throw DomainError.validation('Invalid user', problems);
    if (await this.users.findForLogin(command.email)) throw DomainError.conflict(`A user with email ${command.email} exists`);
    return this.users.create(organization.id, {
      email: command.email,
      passwordHash: await hashPassword(command.password),
      role: command.role,
      displayName: command.displayName ?? null,
    });
  }

  page(organizationId: string, page: { limit: number; offset: number }): Promise<{ items: UserEntity[]; total: number }> {
    return this.users.page(organizationId, page);
  }

  async get(organizationId: string, id: string): Promise<UserEntity> {
    const user = await this.users.findById(organizationId, id);
    if (!user) throw DomainError.notFound('User', id);
    return user;
  }

  /** Changes a user's role; effective on the user's next request (roles are read per request, not from the JWT). */
  async setRole(principal: Principal, id: string, role: Role): Promise<UserEntity> {
    if (principal.userId === id) throw DomainError.invalidState('You may not change your own role (ask another admin)');
    const changed = await this.users.setRole(principal.organizationId, id, role);
    this.auth?.forgetUser(id);
    if (!changed) throw DomainError.notFound('User', id);
    return this.get(principal.organizationId, id);
  }

  /** Disables a user: its JWTs and the API keys bound to it stop on their next request. Idempotent. */
  async disable(principal: Principal, id: string): Promise<UserEntity> {
    if (principal.userId === id) throw DomainError.invalidState('You may not disable yourself (ask another admin)');
    await this.users.disable(principal.organizationId, id);
    this.auth?.forgetUser(id);
    return this.get(principal.organizationId, id);
  }
}
