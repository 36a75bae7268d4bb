import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The one error shape of the API. */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 }) statusCode: number;
  @ApiProperty({ example: 'Bad Request' }) error: string;
  @ApiProperty({ example: 'Definition is invalid' }) message: string;
  @ApiPropertyOptional({
    description: 'Machine-readable problems, usually `[{ path, message }]` with JSON paths.',
    example: [{ path: '$.steps[1].dependsOn[0]', message: 'unknown step "fetch"' }],
  })
  details?: unknown;
}
