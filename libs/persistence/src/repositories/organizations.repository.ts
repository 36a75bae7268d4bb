import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { OrganizationEntity } from '../entities/organization.entity.js';

/** Organizations are the tenants: the only repository whose methods do not take an organization id. */
@Injectable()
export class OrganizationsRepository {
  constructor(@InjectRepository(OrganizationEntity) private readonly repo: Repository<OrganizationEntity>) {}

  findById(id: string): Promise<OrganizationEntity | null> {
    return this.repo.findOneBy({ id });
  }

  findBySlug(slug: string): Promise<OrganizationEntity | null> {
    return this.repo.findOneBy({ slug });
  }

  /** Organizations by slug, with the total (platform administration). */
  async page(page: { limit: number; offset: number }): Promise<{ items: OrganizationEntity[]; total: number }> {
    const [items, total] = await this.repo.findAndCount({ order: { slug: 'ASC' }, take: page.limit, skip: page.offset });
    return { items, total };
  }

  /** Inserts a new organization; null when the slug is taken. */
  async insertIfAbsent(slug: string, name: string): Promise<OrganizationEntity | null> {
    const result = await this.repo.manager
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
  async ensure(slug: string, name: string, manager: EntityManager = this.repo.manager): Promise<OrganizationEntity> {
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
