import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../database/database.tokens.js';
import { OrganizationEntity } from '../entities/organization.entity.js';

/** Organizations are the tenants: the only repository whose methods do not take an organization id. */
@Injectable()
export class OrganizationsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  findById(id: string): Promise<OrganizationEntity | null> {
    return this.dataSource.getRepository(OrganizationEntity).findOneBy({ id });
  }

  findBySlug(slug: string): Promise<OrganizationEntity | null> {
    return this.dataSource.getRepository(OrganizationEntity).findOneBy({ slug });
  }

  /** Organizations by slug, with the total (platform administration). */
  async page(page: { limit: number; offset: number }): Promise<{ items: OrganizationEntity[]; total: number }> {
    const [items, total] = await this.dataSource
      .getRepository(OrganizationEntity)
      .findAndCount({ order: { slug: 'ASC' }, take: page.limit, skip: page.offset });
    return { items, total };
  }

  /** Inserts a new organization; null when the slug is taken. */
  async insertIfAbsent(slug: string, name: string): Promise<OrganizationEntity | null> {
    const result = await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(OrganizationEntity)
      .values({ slug, name })
      .orIgnore()
      .returning('id')
      .execute();
    const id = (result.raw as { id: string }[])[0]?.id;
    return id ? this.findById(id) : null;
  }

  /** Inserts the organization unless one with that slug exists; returns the stored row either way. */
  async ensure(slug: string, name: string, manager: EntityManager = this.dataSource.manager): Promise<OrganizationEntity> {
    await manager
      .createQueryBuilder()
      .insert()
      .into(OrganizationEntity)
      .values({ slug, name })
      .orIgnore()
      .execute();
    return manager.getRepository(OrganizationEntity).findOneByOrFail({ slug });
  }
}
