/* dryrun.h - the dry run (mail2sms -n) as a transport: every request to
 * Bird's API is printed as one JSON line {"method","url","body"} and
 * answered as Bird would (a message accepted; a presigned upload whose
 * media URL is the stand-in https://dry-run.invalid/N/<file name>);
 * uploads are answered without a line. Nothing leaves the machine. And a
 * media backend for the directory store that names the same stand-ins and
 * writes nothing.
 */
#ifndef M2S_DRYRUN_H
#define M2S_DRYRUN_H

#include <stdio.h>
#include "config.h"
#include "media.h"
#include "transport.h"

/* A transport that prints to out (borrowed). Free with m2s_transport_free. */
m2s_transport *m2s_dryrun_new(FILE *out);

/* The media backend of a dry run for cfg's store: Bird's (its requests
 * then go through the dry-run transport), or stand-ins for a directory.
 * Static storage. */
const m2s_media_backend *m2s_dryrun_media(const m2s_config *cfg);

#endif
