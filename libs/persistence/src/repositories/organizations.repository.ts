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
