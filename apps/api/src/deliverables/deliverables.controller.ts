import { Controller, Get, Header, Param, ParseUUIDPipe, StreamableFile } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { DomainError } from '#core';
import type { Principal } from '#identity';
import { ArtifactsRepository, RunsRepository } from '#persistence';
import { AnyRole, Authenticated, CurrentPrincipal } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { AssetDto, DeliverableListDto, toAssetDto, toDeliverableDto } from './artifact.dto.js';

const uuid = () => new ParseUUIDPipe();

/** What function agents produced (deliverables and assets), read-only, scoped to the caller's organization. */
@ApiTags('deliverables')
@Authenticated()
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such run or asset in your organization' })
@Controller()
export class DeliverablesController {
  constructor(
    private readonly artifacts: ArtifactsRepository,
    private readonly runs: RunsRepository,
  ) {}

  @Get('orchestrations/runs/:id/deliverables')
  @AnyRole()
  @ApiOperation({ summary: "A run's deliverables (oldest first) and the assets its steps saved" })
  @ApiOkResponse({ type: DeliverableListDto })
  async deliverables(@CurrentPrincipal() principal: Principal, @Param('id', uuid()) id: string): Promise<DeliverableListDto> {
    if (!(await this.runs.findById(principal.organizationId, id))) throw DomainError.notFound('run', id);
    const [items, assets] = await Promise.all([
      this.artifacts.listDeliverables(principal.organizationId, id),
      this.artifacts.listAssets(principal.organizationId, id),
    ]);
    return { items: items.map(toDeliverableDto), assets: assets.map(toAssetDto) };
  }

  @Get('assets/:id')
  @AnyRole()
  @ApiOperation({ summary: "An asset's metadata" })
  @ApiOkResponse({ type: AssetDto })
  async asset(@CurrentPrincipal() principal: Principal, @Param('id', uuid()) id: string): Promise<AssetDto> {
    const asset = await this.artifacts.findAsset(principal.organizationId, id);
    if (!asset) throw DomainError.notFound('asset', id);
    return toAssetDto(asset);
  }

  @Get('assets/:id/content')
  @AnyRole()
  @ApiOperation({ summary: "An asset's bytes, with its media type" })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ description: 'The bytes', schema: { type: 'string', format: 'binary' } })
  @Header('X-Content-Type-Options', 'nosniff')
  async content(@CurrentPrincipal() principal: Principal, @Param('id', uuid()) id: string): Promise<StreamableFile> {
    const found = await this.artifacts.assetContent(principal.organizationId, id);
    if (!found) throw DomainError.notFound('asset', id);
    return new StreamableFile(found.bytes, {
      type: found.asset.mediaType,
      length: found.bytes.length,
      disposition: `inline; filename="${found.asset.filename}"`,
    });
  }
}
