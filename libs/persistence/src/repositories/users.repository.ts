import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import type { Role } from '#core';
import { UserEntity } from '../entities/user.entity.js';

export interface NewUser {
  email: string;
  passwordHash: string;
  role: Role;
  displayName?: string | null;
}

@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(UserEntity) private readonly repo: Repository<UserEntity>) {}

  /**
   * What authenticating a request needs of a user, read on every request (so disabling a user or changing a role
   * applies at once): one plain indexed query, without entity hydration, on the hot path of every call.
   */
  async findForRequest(
    organizationId: string,
    id: string,
  ): Promise<Pick<UserEntity, 'id' | 'organizationId' | 'email' | 'role' | 'disabledAt'> | null> {
    const rows: { id: string; organization_id: string; email: string; role: Role; disabled_at: Date | null }[] =
      await this.repo.manager.query(
        `SELECT id, organization_id, email, role, disabled_at FROM users WHERE organization_id = $1 AND id = $2`,
        [organizationId, id],
      );
    const row = rows[0];
    return row ? { id: row.id, organizationId: row.organization_id, email: row.email, role: row.role, disabledAt: row.disabled_at } : null;
  }

  list(organizationId: string): Promise<UserEntity[]> {
    return this.repo.find({ where: { organizationId }, order: { createdAt: 'ASC' } });
  }

  async page(organizationId: string, page: { limit: number; offset: number }): Promise<{ items: UserEntity[]; total: number }> {
    const [items, total] = await this.repo.findAndCount({ where: { organizationId }, order: { createdAt: 'ASC' }, take: page.limit, skip: page.offset });
    return { items, total };
  }

  findById(organizationId: string, id: string): Promise<UserEntity | null> {
    return this.repo.findOneBy({ organizationId, id });
  }

  async setRole(organizationId: string, id: string, role: Role): Promise<boolean> {
    const result = await this.repo.update({ organizationId, id }, { role });
    return (result.affected ?? 0) > 0;
  }

  /** Disables the user (once); every request re-reads `disabled_at`, so its tokens and keys stop at once. */
  async disable(organizationId: string, id: string): Promise<boolean> {
    const result = await this.repo.update({ organizationId, id, disabledAt: IsNull() }, { disabledAt: new Date() });
    return (result.affected ?? 0) > 0;
  }

  /** Login looks a user up by email before any organization is known; returns the hash for verification. */
  findForLogin(email: string): Promise<UserEntity | null> {
    return this.repo.createQueryBuilder('u').addSelect('u.passwordHash').where('lower(u.email) = lower(:email)', { email }).getOne();
  }

  async create(organizationId: string, user: NewUser): Promise<UserEntity> {
    return this.repo.save(this.repo.create({ organizationId, ...user, email: user.email.toLowerCase() }));
  }

  /** Inserts the user unless the email exists (in any organization); returns whether it inserted. */
  async insertIfAbsent(organizationId: string, user: NewUser): Promise<boolean> {
    const result = await this.repo.manager.query(
      `INSERT INTO users (organization_id, email, password_hash, role, display_name)
       VALUES ($1, lower($2), $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id`,
      [organizationId, user.email, user.passwordHash, user.role, user.displayName ?? null],
    );
    return (result as unknown[]).length > 0;
  }
}
