import { Injectable } from '@nestjs/common';
import { DomainError, ROLES, type Role } from '#core';
import { OrganizationsRepository, UsersRepository, type UserEntity } from '#persistence';
import { hashPassword } from './password-hasher.js';

export interface CreateUserCommand {
  organizationSlug: string;
  email: string;
  password: string;
  role: Role;
  displayName?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly organizations: OrganizationsRepository,
  ) {}

  /** Validates and creates a user; the organization is created when missing. */
  async create(command: CreateUserCommand): Promise<UserEntity> {
    const problems = [];
    if (!EMAIL.test(command.email)) problems.push({ path: '$.email', message: 'must be an email address' });
    if (command.password.length < 8) problems.push({ path: '$.password', message: 'must be at least 8 characters' });
    if (!ROLES.includes(command.role)) problems.push({ path: '$.role', message: `must be one of ${ROLES.join(', ')}` });
    if (!/^[a-z0-9][a-z0-9-]{0,99}$/.test(command.organizationSlug)) problems.push({ path: '$.organization', message: 'must be a slug' });
    if (problems.length > 0) throw DomainError.validation('Invalid user', problems);
    const organization = await this.organizations.ensure(command.organizationSlug, command.organizationSlug);
    if (await this.users.findForLogin(command.email)) throw DomainError.conflict(`A user with email ${command.email} exists`);
    return this.users.create(organization.id, {
      email: command.email,
      passwordHash: await hashPassword(command.password),
      role: command.role,
      displayName: command.displayName ?? null,
    });
  }
}
