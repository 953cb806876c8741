/* Part of crl/'s public interface; include "crl/crl.h". */
#ifndef MTLSCA_CRL_PUBLISH_H
#define MTLSCA_CRL_PUBLISH_H

#endif
