import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type Repository } from 'typeorm';
import type { Role } from '#core';
import { ApiKeyEntity } from '../entities/api-key.entity.js';

export interface NewApiKey {
  name: string;
  prefix: string;
  keyHash: string;
  role: Role;
  userId?: string | null;
  expiresAt?: Date | null;
}

@Injectable()
export class ApiKeysRepository {
  constructor(@InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>) {}

  create(organizationId: string, key: NewApiKey): Promise<ApiKeyEntity> {
    return this.repo.save(this.repo.create({ organizationId, ...key }));
  }

  list(organizationId: string): Promise<ApiKeyEntity[]> {
    return this.repo.find({ where: { organizationId }, order: { createdAt: 'DESC' } });
  }

  async page(organizationId: string, page: { limit: number; offset: number }): Promise<{ items: ApiKeyEntity[]; total: number }> {
    const [items, total] = await this.repo.findAndCount({ where: { organizationId }, order: { createdAt: 'DESC' }, take: page.limit, skip: page.offset });
    return { items, total };
  }

  /** Authentication resolves the key by its public prefix before the organization is known. */
  findActiveByPrefix(prefix: string): Promise<ApiKeyEntity | null> {
    return this.repo
      .createQueryBuilder('k')
      .addSelect('k.keyHash')
      .where('k.prefix = :prefix AND k.revoked_at IS NULL', { prefix })
      .andWhere('(k.expires_at IS NULL OR k.expires_at > now())')
      // a key bound to a disabled user stops with the user
      .andWhere('NOT EXISTS (SELECT 1 FROM users u WHERE u.id = k.user_id AND u.disabled_at IS NOT NULL)')
      .getOne();
  }

  async touch(id: string): Promise<void> {
    await this.repo.update({ id }, { lastUsedAt: new Date() });
  }

  async revoke(organizationId: string, id: string): Promise<boolean> {
    const result = await this.repo.update({ organizationId, id, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }
}
