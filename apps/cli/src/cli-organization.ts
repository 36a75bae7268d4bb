import type { INestApplicationContext } from '@nestjs/common';
import { OrganizationsRepository, type OrganizationEntity } from '#persistence';
import { CliError } from './cli-errors.js';

/** The organization a command works in, by slug; a missing one is an error (the CLI does not invent tenants). */
export async function findOrganization(app: INestApplicationContext, slug: string): Promise<OrganizationEntity> {
  const organization = await app.get(OrganizationsRepository, { strict: false }).findBySlug(slug);
  if (!organization) {
    const hint = slug === 'global' ? ' Run `npm run cli -- db:seed` to create it.' : '';
    throw new CliError(`Organization "${slug}" does not exist.${hint}`);
  }
  return organization;
}
