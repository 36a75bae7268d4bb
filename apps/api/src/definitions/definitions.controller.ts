import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { DefinitionsService, definitionToYaml } from '#definitions';
import type { Principal } from '#identity';
import { AnyRole, Authenticated, CurrentPrincipal, Roles } from '../common/auth.decorators.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { PaginationQueryDto, pageRequest } from '../common/pagination.dto.js';
import {
  ArchiveResultDto,
  DEFINITION_REQUEST_BODY,
  DefinitionDiffDto,
  DefinitionDto,
  DefinitionPageDto,
  DefinitionVersionPageDto,
  DiffQueryDto,
  EXAMPLE_YAML,
  ListDefinitionsQueryDto,
  toDefinitionDto,
  toDefinitionSummaryDto,
  ValidationReportDto,
  VersionQueryDto,
} from './definition.dto.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];
const SLUG_PARAM = { name: 'slug', example: 'kpi-tracking', description: 'Definition slug' };
const INVALID = { type: ErrorResponseDto, description: 'Invalid definition: `details` lists every problem as `{ path, message, code }`' };

/**
 * The definition body is validated by the definitions library (JSON Schema + semantic checks), not by a DTO:
 * `unknown` reaches the global ValidationPipe as Object, which it passes through untouched, and YAML bodies
 * arrive as text (bootstrap.ts). The request body is documented through ApiOperation's `requestBody` rather
 * than @ApiBody, whose options cannot give each content type (JSON, YAML) its own schema and example.
 */
@ApiTags('definitions')
@Authenticated()
@ApiExtraModels(DefinitionDto)
@Controller('orchestrations/definitions')
export class DefinitionsController {
  constructor(private readonly definitions: DefinitionsService) {}

  @Get()
  @AnyRole()
  @ApiOperation({ summary: 'List definitions (newest version of each slug by default), with filters and pagination' })
  @ApiOkResponse({ type: DefinitionPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid filter or pagination' })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListDefinitionsQueryDto): Promise<DefinitionPageDto> {
    const { status, slug, search, latestOnly } = query;
    const page = await this.definitions.list(principal.organizationId, { status, slug, search, latestOnly }, pageRequest(query));
    return { ...page, items: page.items.map(toDefinitionSummaryDto) };
  }

  @Post()
  @Roles()
  @ApiOperation({ summary: 'Create a definition (version 1), from JSON or YAML (admin)', requestBody: DEFINITION_REQUEST_BODY })
  @ApiCreatedResponse({ type: DefinitionDto })
  @ApiBadRequestResponse(INVALID)
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The slug exists: PUT /orchestrations/definitions/{slug} adds a version' })
  async create(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<DefinitionDto> {
    return toDefinitionDto(await this.definitions.create(principal.organizationId, body, principal.userId));
  }

  @Post('validate')
  @AnyRole()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Validate a definition without saving it (any role)',
    description: 'Answers 200 with the full report, valid or not: the same checks a save runs, every problem at once.',
    requestBody: DEFINITION_REQUEST_BODY,
  })
  @ApiOkResponse({ type: ValidationReportDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Body is not parseable JSON (YAML problems come back in the report)' })
  validate(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<ValidationReportDto> {
    return this.definitions.validate(principal.organizationId, body);
  }

  @Get(':slug')
  @AnyRole()
  @ApiOperation({
    summary: 'The latest active version of a definition, or ?version=N (even archived)',
    description: 'Send `Accept: application/yaml` to get the definition itself as YAML, ready to edit and PUT back.',
  })
  @ApiParam(SLUG_PARAM)
  @ApiProduces('application/json', 'application/yaml')
  @ApiOkResponse({
    description: 'The definition version (JSON), or its spec as YAML',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(DefinitionDto) } },
      'application/yaml': { schema: { type: 'string', example: EXAMPLE_YAML } },
    },
  })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid version' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such definition (or version) in your organization' })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('slug') slug: string,
    @Query() query: VersionQueryDto,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DefinitionDto | string> {
    const definition = await this.definitions.get(principal.organizationId, slug, query.version);
    response.vary('Accept');
    if (!YAML_TYPES.includes(request.accepts(['application/json', ...YAML_TYPES]) || '')) return toDefinitionDto(definition);
    response.type('application/yaml');
    return definitionToYaml(definition.spec);
  }

  @Get(':slug/versions')
  @AnyRole()
  @ApiOperation({ summary: 'Every version of a definition, oldest first, whatever its status' })
  @ApiParam(SLUG_PARAM)
  @ApiOkResponse({ type: DefinitionVersionPageDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such definition in your organization' })
  async versions(@CurrentPrincipal() principal: Principal, @Param('slug') slug: string, @Query() query: PaginationQueryDto): Promise<DefinitionVersionPageDto> {
    const page = pageRequest(query);
    const all = await this.definitions.versions(principal.organizationId, slug);
    return { items: all.slice(page.offset, page.offset + page.limit).map(toDefinitionSummaryDto), total: all.length, ...page };
  }

  @Get(':slug/diff')
  @AnyRole()
  @ApiOperation({ summary: 'Compare two versions: added, removed and changed steps, and changed top-level fields' })
  @ApiParam(SLUG_PARAM)
  @ApiOkResponse({ type: DefinitionDiffDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'from and to must be version numbers' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such definition or version in your organization' })
  diff(@CurrentPrincipal() principal: Principal, @Param('slug') slug: string, @Query() query: DiffQueryDto): Promise<DefinitionDiffDto> {
    return this.definitions.diff(principal.organizationId, slug, query.from, query.to);
  }

  @Put(':slug')
  @Roles()
  @ApiOperation({
    summary: 'Save a new version of a definition (admin); older versions never change',
    description:
      'The body is a whole definition whose slug equals the path slug. Runs already started keep their version. ' +
      'The same content as the latest active version saves nothing: the answer is that version (as `definitions:apply` reports "unchanged").',
    requestBody: DEFINITION_REQUEST_BODY,
  })
  @ApiParam(SLUG_PARAM)
  @ApiOkResponse({ type: DefinitionDto, description: 'The new version (or the latest, when the content is the same)' })
  @ApiBadRequestResponse(INVALID)
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such definition in your organization: POST creates it' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'A concurrent save took the same version number; retry' })
  async createVersion(
    @CurrentPrincipal() principal: Principal,
    @Param('slug') slug: string,
    @Body() body: unknown,
  ): Promise<DefinitionDto> {
    return toDefinitionDto(await this.definitions.createVersion(principal.organizationId, slug, body, principal.userId));
  }

  @Delete(':slug')
  @Roles()
  @ApiOperation({
    summary: 'Archive a definition (admin): every version, or ?version=N',
    description: 'Archived versions no longer start runs by slug but stay readable with ?version=N; running runs are not affected.',
  })
  @ApiParam(SLUG_PARAM)
  @ApiOkResponse({ type: ArchiveResultDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'Invalid version' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such definition (or version) in your organization' })
  async archive(
    @CurrentPrincipal() principal: Principal,
    @Param('slug') slug: string,
    @Query() query: VersionQueryDto,
  ): Promise<ArchiveResultDto> {
    const archived = await this.definitions.archive(principal.organizationId, slug, query.version);
    return { slug, version: query.version ?? null, archived };
  }
}
