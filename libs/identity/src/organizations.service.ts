import { Injectable } from '@nestjs/common';
import { DomainError, DomainErrorCode } from '#core';
import { OrganizationsRepository, type OrganizationEntity } from '#persistence';
import type { Principal } from './principal.js';

/** The platform organization: its admins manage the other tenants. */
export const PLATFORM_ORGANIZATION_SLUG = 'global';
const SLUG = /^[a-z0-9][a-z0-9-]{0,99}$/;

@Injectable()
export class OrganizationsService {
  constructor(private readonly organizations: OrganizationsRepository) {}

  async isPlatformAdmin(principal: Principal): Promise<boolean> {
    if (principal.role !== 'admin') return false;
    return (await this.organizations.findById(principal.organizationId))?.slug === PLATFORM_ORGANIZATION_SLUG;
  }

  list(page: { limit: number; offset: number }): Promise<{ items: OrganizationEntity[]; total: number }> {
    return this.organizations.page(page);
  }

  async create(slug: string, name?: string): Promise<OrganizationEntity> {
    if (!SLUG.test(slug)) throw DomainError.validation('Invalid organization', [{ path: '$.slug', message: 'must be a slug (a-z, 0-9, -; at most 100)' }]);
    const created = await this.organizations.insertIfAbsent(slug, name ?? slug);
    if (!created) throw DomainError.conflict(`Organization ${slug} exists`);
    return created;
  }

  /**
   * The organization a request acts on: the caller's own, or (platform admins only) another one by slug. Another
   * organization named by anyone else is refused with 403 (the slug is the caller's input, so nothing leaks).
   */
  async target(principal: Principal, slug: string | undefined): Promise<OrganizationEntity> {
    const own = await this.organizations.findById(principal.organizationId);
    if (!own) throw new DomainError(DomainErrorCode.Unauthenticated, 'Invalid or missing credentials');
    if (slug === undefined || slug === own.slug) return own;
    if (own.slug !== PLATFORM_ORGANIZATION_SLUG || principal.role !== 'admin') {
      throw new DomainError(DomainErrorCode.Forbidden, `Only admins of the platform organization "${PLATFORM_ORGANIZATION_SLUG}" may name another organization`);
    }
    const other = await this.organizations.findBySlug(slug);
    if (!other) throw DomainError.notFound('Organization', slug);
    return other;
  }
}
