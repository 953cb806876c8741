/* Part of crl/'s public interface; include "crl/crl.h". */
#ifndef MTLSCA_CRL_SCHEDULE_H
#define MTLSCA_CRL_SCHEDULE_H

#endif
